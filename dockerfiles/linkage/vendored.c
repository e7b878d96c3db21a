/* A library that brings its own libcrypto (as auditwheel-style vendoring does). */
#include <openssl/crypto.h>

const char *vendored_version(void) { return OpenSSL_version(0); }
