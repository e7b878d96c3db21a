/* TEST DOUBLE of a commercial wolfSSL FIPS library (which cannot be had here): it exports the
 * documented wolfCrypt FIPS entry points and nothing else. Its answers come from the
 * environment: WOLFSSL_DOUBLE_STATUS (wolfCrypt_GetStatus_fips, default 0),
 * WOLFSSL_DOUBLE_MODE (wolfCrypt_GetMode_fips, default 1 = NORMAL) and
 * WOLFSSL_DOUBLE_CAST (wc_RunAllCast_fips, default 0). */
#include <stdlib.h>

static int from_env(const char *name, int fallback) {
    const char *value = getenv(name);
    return value ? atoi(value) : fallback;
}

int wolfCrypt_GetStatus_fips(void) { return from_env("WOLFSSL_DOUBLE_STATUS", 0); }
int wolfCrypt_GetMode_fips(void) { return from_env("WOLFSSL_DOUBLE_MODE", 1); }
int wc_RunAllCast_fips(void) { return from_env("WOLFSSL_DOUBLE_CAST", 0); }
const char *wolfCrypt_GetVersion_fips(void) { return "v5.2.1-double"; }
const char *wolfCrypt_GetCoreHash_fips(void) { return "DOUBLE0123456789ABCDEF"; }
const char *wolfSSL_lib_version(void) { return "5.6.6-double"; }
