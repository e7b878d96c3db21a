/* A program that uses libcrypto (SHA-256 of its arguments); the negatives link it in
   different ways. It is never run by the tests: linkage is read from its ELF headers. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const char *text = argc > 1 ? argv[1] : "";
    if (!EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL))
        return 1;
    for (unsigned int i = 0; i < len; i++)
        printf("%02x", md[i]);
    printf("\n");
    return 0;
}
