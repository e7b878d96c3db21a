/* Link-time stand-in for a libcrypto that is then replaced or left out; never shipped. */
void OpenSSL_version(void) {}
void EVP_Digest(void) {}
void EVP_sha256(void) {}
