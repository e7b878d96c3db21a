/* TEST DOUBLE of OpenSSL 1.0.2 with the FIPS Object Module 2.0 (which cannot be had here):
 * it exports the version and FIPS entry points of such a libcrypto and no EVP functions.
 * FIPS102_DOUBLE_MODE=1 starts in FIPS mode; FIPS102_DOUBLE_CAPABLE=1 lets FIPS_mode_set(1)
 * succeed (otherwise it fails with an error queued, as a non-FIPS build does);
 * FIPS102_DOUBLE_SELFTEST_FAILED=1 makes FIPS_selftest_failed() report a failure. */
#include <stdio.h>
#include <stdlib.h>

static int mode = -1;
static unsigned long queued_error;

static int flag(const char *name) { return getenv(name) && atoi(getenv(name)); }

unsigned long SSLeay(void) { return 0x1000214fUL; }
const char *SSLeay_version(int type) { (void)type; return "OpenSSL 1.0.2zk-fips double"; }
const char *FIPS_module_version_text(void) { return "FIPS 2.0.16 double"; }
int FIPS_selftest_failed(void) { return flag("FIPS102_DOUBLE_SELFTEST_FAILED"); }

int FIPS_mode(void) {
    if (mode < 0) mode = flag("FIPS102_DOUBLE_MODE");
    return mode;
}

int FIPS_mode_set(int on) {
    if (flag("FIPS102_DOUBLE_CAPABLE")) { mode = on; return 1; }
    queued_error = 0x2D0B3072UL; /* FIPS_mode_set: fips mode not supported */
    return 0;
}

unsigned long ERR_get_error(void) {
    unsigned long e = queued_error;
    queued_error = 0;
    return e;
}

void ERR_error_string_n(unsigned long e, char *buf, size_t len) {
    snprintf(buf, len, "error:%08lX:FIPS routines:FIPS_mode_set:fips mode not supported", e);
}
