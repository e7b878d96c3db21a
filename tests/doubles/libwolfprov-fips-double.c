/* TEST DOUBLE of wolfProvider built against the commercial wolfSSL FIPS module (which cannot be
 * had here): an OpenSSL 3 provider that calls itself "wolfSSL Provider FIPS" and, as
 * wolfProvider does (wolfssl_prov_is_running), reports status 1 only while
 * wolfCrypt_GetStatus_fips() of the libwolfssl linked with it returns 0. It offers no
 * algorithms. wolfCrypt_GetStatus_fips is a weak reference, so the double also loads over an
 * open-source libwolfssl, which lacks it: a provider whose name claims FIPS over a wolfSSL that
 * is not, the case the native checker must not trust. The OpenSSL ABI (provider dispatch
 * table, OSSL_PARAM) is public and declared here, so no OpenSSL headers are needed. */
#include <stddef.h>
#include <string.h>

typedef struct {
    const char *key;
    unsigned int data_type;
    void *data;
    size_t data_size;
    size_t return_size;
} ossl_param;

typedef struct {
    int function_id;
    void (*function)(void);
} ossl_dispatch;

enum { PARAM_INTEGER = 1, PARAM_UTF8_PTR = 6 };
enum { PROVIDER_GETTABLE_PARAMS = 1025, PROVIDER_GET_PARAMS = 1026, PROVIDER_QUERY_OPERATION = 1027 };

extern int wolfCrypt_GetStatus_fips(void) __attribute__((weak));

static const ossl_param GETTABLE[] = {
    {"name", PARAM_UTF8_PTR, NULL, 0, 0}, {"version", PARAM_UTF8_PTR, NULL, 0, 0},
    {"buildinfo", PARAM_UTF8_PTR, NULL, 0, 0}, {"status", PARAM_INTEGER, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0}};

static const ossl_param *gettable_params(void *ctx) {
    (void)ctx;
    return GETTABLE;
}

static void set_text(ossl_param *p, const char *text) {
    if (p->data_type != PARAM_UTF8_PTR) return;
    *(const char **)p->data = text;
    p->return_size = strlen(text);
}

static int get_params(void *ctx, ossl_param *params) {
    (void)ctx;
    for (ossl_param *p = params; p->key; p++) {
        if (strcmp(p->key, "name") == 0) set_text(p, "wolfSSL Provider FIPS");
        else if (strcmp(p->key, "version") == 0) set_text(p, "1.2.1-double");
        else if (strcmp(p->key, "buildinfo") == 0) set_text(p, "wolfSSL FIPS double");
        else if (strcmp(p->key, "status") == 0 && p->data_type == PARAM_INTEGER && p->data_size == sizeof(int)) {
            *(int *)p->data = wolfCrypt_GetStatus_fips && wolfCrypt_GetStatus_fips() == 0;
            p->return_size = sizeof(int);
        }
    }
    return 1;
}

static const void *query_operation(void *ctx, int operation, int *no_cache) {
    (void)ctx, (void)operation;
    *no_cache = 0;
    return NULL;
}

static const ossl_dispatch DISPATCH[] = {
    {PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params},
    {PROVIDER_GET_PARAMS, (void (*)(void))get_params},
    {PROVIDER_QUERY_OPERATION, (void (*)(void))query_operation},
    {0, NULL}};

int OSSL_provider_init(const void *handle, const ossl_dispatch *in, const ossl_dispatch **out, void **ctx) {
    (void)handle, (void)in;
    *out = DISPATCH;
    *ctx = (void *)DISPATCH;
    return 1;
}
