/*
 * fips-startup-check: what the crypto libraries of this process really do, as one JSON report.
 *
 * One source, two builds:
 *  - the standalone executable (main() below): fipscheck's in-container probe and an
 *    entrypoint preflight (`fips-startup-check [options] -- CMD ARGS...` execs CMD on success);
 *  - the cffi extension fipscheck._native (built with FSC_NO_MAIN), which calls
 *    fsc_report_json() in-process on the libcrypto Python has already loaded.
 *
 * Nothing is linked against a crypto library: libcrypto and libwolfssl are dlopen()ed the way
 * the process would see them (already loaded first, then the usual sonames, or an explicit
 * path) and every entry point is looked up with dlsym, so one binary serves OpenSSL 1.0.2 to
 * 3.x, BoringSSL, AWS-LC and wolfSSL, and reports a missing library instead of failing to start.
 *
 * The OpenSSL structures used here (OSSL_PARAM, the self-test callback's parameters) are
 * public ABI, declared locally because no OpenSSL headers are needed to build this file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef FSC_PIN_GLIBC
/*
 * The shipped standalone must run in images with glibc 2.31 (bullseye) and newer, but a
 * binary linked on a newer glibc asks for GLIBC_2.34 versions of the dl* functions (they moved
 * from libdl into libc in 2.34). Pin the references to the oldest versions, which every glibc
 * still exports (2.2.5 on x86-64, 2.17 on aarch64; from libdl.so.2 before 2.34, from libc.so.6
 * after; the Makefile keeps libdl.so.2 as a dependency so old glibc finds them).
 * __libc_start_main is pinned the same way in start.S and start-aarch64.S, this build's own
 * start-up code. Tests read the binaries' symbol versions and run them in the bullseye,
 * bookworm and trixie images (x86-64) and on an arm64 trixie root under qemu-user.
 */
#if defined(__x86_64__)
#define FSC_GLIBC_OLDEST "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define FSC_GLIBC_OLDEST "GLIBC_2.17" /* aarch64's first glibc (start-aarch64.S) */
#else
#error "FSC_PIN_GLIBC: no oldest glibc version known for this architecture"
#endif
__asm__(".symver dlopen,dlopen@" FSC_GLIBC_OLDEST);
__asm__(".symver dlsym,dlsym@" FSC_GLIBC_OLDEST);
__asm__(".symver dlerror,dlerror@" FSC_GLIBC_OLDEST);
__asm__(".symver dladdr,dladdr@" FSC_GLIBC_OLDEST);
#endif

#define FSC_VERSION "0.1.0"
#define SCHEMA_VERSION 1
#define MAX_PROVIDERS 16
#define MAX_EVENTS 128
#define MAX_REQUIRED 8
#define ERRLEN 512

/* ------------------------------------------------------------------------------------------ */
/* Public OpenSSL ABI used through dlsym.                                                      */

typedef struct {
    const char *key;
    unsigned int data_type;
    void *data;
    size_t data_size;
    size_t return_size;
} ossl_param;

enum { PARAM_INTEGER = 1, PARAM_UTF8_STRING = 4, PARAM_UTF8_PTR = 6 };
#define PARAM_UNMODIFIED ((size_t)-1)
#define OPENSSL_INIT_LOAD_CONFIG 0x40L
#define OPENSSL_INIT_ADD_ALL_CIPHERS 0x04L
#define OPENSSL_INIT_ADD_ALL_DIGESTS 0x08L
#define OPENSSL_INFO_CONFIG_DIR 1001
#define OPENSSL_INFO_MODULES_DIR 1003
#define EVP_CTRL_GCM_GET_TAG 0x10

typedef int (*provider_cb)(void *provider, void *arg);
typedef int (*self_test_cb)(const ossl_param *params, void *arg);

/* X(return type, name, parameters): every libcrypto entry point, all optional. */
#define CRYPTO_SYMBOLS(X)                                                                      \
    X(const char *, OpenSSL_version, (int))                                                    \
    X(unsigned long, OpenSSL_version_num, (void))                                              \
    X(const char *, SSLeay_version, (int))                                                     \
    X(unsigned long, SSLeay, (void))                                                           \
    X(const char *, OPENSSL_info, (int))                                                       \
    X(int, OPENSSL_init_crypto, (uint64_t, const void *))                                      \
    X(void, OPENSSL_add_all_algorithms_noconf, (void))                                         \
    X(int, FIPS_mode, (void))                                                                  \
    X(int, FIPS_mode_set, (int))                                                               \
    X(int, FIPS_selftest_failed, (void))                                                       \
    X(const char *, FIPS_module_version_text, (void))                                          \
    X(int, EVP_default_properties_is_fips_enabled, (void *))                                   \
    X(int, OSSL_PROVIDER_do_all, (void *, provider_cb, void *))                                \
    X(const char *, OSSL_PROVIDER_get0_name, (const void *))                                   \
    X(int, OSSL_PROVIDER_get_params, (const void *, ossl_param *))                             \
    X(int, OSSL_PROVIDER_self_test, (const void *))                                            \
    X(void, OSSL_SELF_TEST_set_callback, (void *, self_test_cb, void *))                       \
    X(void *, OSSL_LIB_CTX_new, (void))                                                        \
    X(int, OSSL_LIB_CTX_load_config, (void *, const char *))                                   \
    X(void, OSSL_LIB_CTX_free, (void *))                                                       \
    X(void *, EVP_MD_fetch, (void *, const char *, const char *))                              \
    X(void, EVP_MD_free, (void *))                                                             \
    X(const void *, EVP_MD_get0_provider, (const void *))                                      \
    X(void *, EVP_CIPHER_fetch, (void *, const char *, const char *))                          \
    X(void, EVP_CIPHER_free, (void *))                                                         \
    X(const void *, EVP_CIPHER_get0_provider, (const void *))                                  \
    X(void *, EVP_MAC_fetch, (void *, const char *, const char *))                             \
    X(void, EVP_MAC_free, (void *))                                                            \
    X(const void *, EVP_MAC_get0_provider, (const void *))                                     \
    X(const void *, EVP_get_digestbyname, (const char *))                                      \
    X(const void *, EVP_get_cipherbyname, (const char *))                                      \
    X(int, EVP_Digest, (const void *, size_t, unsigned char *, unsigned int *, const void *,  \
                        void *))                                                               \
    X(unsigned char *, HMAC, (const void *, const void *, int, const unsigned char *, size_t, \
                              unsigned char *, unsigned int *))                                \
    X(void *, EVP_CIPHER_CTX_new, (void))                                                      \
    X(void, EVP_CIPHER_CTX_free, (void *))                                                     \
    X(int, EVP_EncryptInit_ex, (void *, const void *, void *, const unsigned char *,          \
                                const unsigned char *))                                        \
    X(int, EVP_EncryptUpdate, (void *, unsigned char *, int *, const unsigned char *, int))    \
    X(int, EVP_EncryptFinal_ex, (void *, unsigned char *, int *))                              \
    X(int, EVP_CIPHER_CTX_ctrl, (void *, int, int, void *))                                    \
    X(int, EVP_CIPHER_CTX_set_padding, (void *, int))                                          \
    X(unsigned long, ERR_get_error, (void))                                                    \
    X(void, ERR_error_string_n, (unsigned long, char *, size_t))                               \
    X(void, ERR_clear_error, (void))

/* The wolfCrypt FIPS entry points (absent from open-source builds) and the library version. */
#define WOLFSSL_SYMBOLS(X)                                                                     \
    X(int, wolfCrypt_GetStatus_fips, (void))                                                   \
    X(const char *, wolfCrypt_GetVersion_fips, (void))                                         \
    X(const char *, wolfCrypt_GetCoreHash_fips, (void))                                        \
    X(int, wolfCrypt_GetMode_fips, (void))                                                     \
    X(int, wc_RunAllCast_fips, (void))                                                         \
    X(const char *, wolfSSL_lib_version, (void))

#define DECLARE_SYMBOL(ret, name, params) ret(*name) params;
#define LOAD_SYMBOL(ret, name, params) *(void **)&api->name = dlsym(handle, #name);

struct crypto_api { CRYPTO_SYMBOLS(DECLARE_SYMBOL) };
struct wolfssl_api { WOLFSSL_SYMBOLS(DECLARE_SYMBOL) };

static void load_crypto_api(struct crypto_api *api, void *handle) { CRYPTO_SYMBOLS(LOAD_SYMBOL) }
static void load_wolfssl_api(struct wolfssl_api *api, void *handle) { WOLFSSL_SYMBOLS(LOAD_SYMBOL) }

/* ------------------------------------------------------------------------------------------ */
/* The report.                                                                                 */

enum status { ST_PASS, ST_FAIL, ST_ERROR, ST_SKIP };
/* The checks the report gives a verdict on, in report order (fipscheck's check IDs). */
enum { CHECK_FIPS_MODE, CHECK_FIPS_PROVIDER, CHECK_INTEGRITY, CHECK_APPROVED, CHECK_NON_APPROVED,
       CHECK_WOLFSSL, N_CHECKS };
#define N_ALGORITHMS 5 /* approved ones tested, and non-approved ones */
static const char *const STATUS_NAMES[] = {"pass", "fail", "error", "skip"};

struct options {
    int text, warn_only, try_fips_mode_set, require_wolfssl, private_context;
    const char *libcrypto, *wolfssl;
    const char *required_providers[MAX_REQUIRED];
    int n_required_providers;
    char **command; /* after "--": the preflight's CMD ARGS... */
    int info;       /* --help or --version instead of a report (RUN_HELP, RUN_VERSION) */
};

struct provider {
    char configured[128], name[128], version[64], buildinfo[128];
    int status;  /* the provider's "status" parameter, -1 when it has none */
    int fips;    /* its name says it is a FIPS provider (for wolfProvider: and its wolfSSL is) */
    int wolfssl; /* wolfProvider: its crypto is the wolfSSL library loaded with it */
};

struct event { char phase[16], type[48], desc[64]; };

struct algorithm {
    const char *label;   /* what the report calls it */
    int served;          /* the library computed it */
    int correct;         /* the output matched the known answer (approved algorithms) */
    char provider[128];  /* OpenSSL 3: configured name of the provider that served the fetch */
    char error[ERRLEN];  /* why it was refused or failed */
};

struct check { const char *id; enum status status; char message[ERRLEN]; };
struct requirement { char what[160]; int met; char message[ERRLEN]; };

struct report {
    struct options opt;
    int embedded; /* running inside another process (the cffi extension) */
    struct crypto_api c;
    struct wolfssl_api w;
    struct {
        int present;
        char path[PATH_MAX], how[32], version[256], modules_dir[PATH_MAX], config_file[PATH_MAX];
        unsigned long version_num;
        const char *family;
        char error[ERRLEN];
    } lib;
    struct {
        int known, enabled, capable; /* capable: -1 not asked, 0/1 FIPS_mode_set(1) answer */
        const char *source;
        char set_error[ERRLEN];
    } fips_mode;
    struct provider providers[MAX_PROVIDERS];
    int n_providers;
    struct {
        const char *context; /* "default" or "private" */
        struct event events[MAX_EVENTS];
        int n_events, rerun, config_loaded;
        struct provider providers[MAX_PROVIDERS];
        int n_providers;
        char config_errors[ERRLEN];
    } self_test;
    struct {
        int fetched;
        struct provider served_by; /* the provider that served the default SHA2-256 fetch */
        char error[ERRLEN];
    } sha256;
    struct algorithm approved[N_ALGORITHMS], non_approved[N_ALGORITHMS];
    int algorithms_tested;
    char algorithms_error[ERRLEN];
    struct {
        int present, loaded, fips_build, status, mode, cast;
        int has_mode, has_cast;
        const char *found_by; /* "explicit", "already-loaded" or "library-dir" */
        char path[PATH_MAX], version[128], fips_version[128], core_hash[160], error[ERRLEN];
    } wolfssl;
    struct check checks[N_CHECKS];
    struct requirement requirements[MAX_REQUIRED + 1];
    int n_requirements;
    enum status verdict;
};

static void copy(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src ? src : "");
}

/* Every queued OpenSSL error, "; "-separated, into out (the queue is emptied). */
static void take_errors(struct report *r, char *out, size_t size) {
    out[0] = '\0';
    if (!r->c.ERR_get_error || !r->c.ERR_error_string_n) return;
    unsigned long code;
    size_t used = 0;
    while ((code = r->c.ERR_get_error()) != 0) {
        char one[256];
        r->c.ERR_error_string_n(code, one, sizeof one);
        if (used + 3 < size)
            used += snprintf(out + used, size - used, "%s%s", used ? "; " : "", one);
    }
}

static void clear_errors(struct report *r) {
    if (r->c.ERR_clear_error) r->c.ERR_clear_error();
}

/* ------------------------------------------------------------------------------------------ */
/* Finding the libraries.                                                                       */

struct loaded_search { const char *prefix; char path[PATH_MAX]; };

static int find_loaded_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct loaded_search *search = arg;
    const char *name = info->dlpi_name;
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : name;
    if (base && strncmp(base, search->prefix, strlen(search->prefix)) == 0) {
        copy(search->path, sizeof search->path, name);
        return 1;
    }
    return 0;
}

/* The path of an object already mapped in this process whose file name starts with prefix. */
static int find_loaded(const char *prefix, char *path, size_t size) {
    struct loaded_search search = {prefix, ""};
    if (!dl_iterate_phdr(find_loaded_cb, &search)) return 0;
    copy(path, size, search.path);
    return 1;
}

/* The file a handle was loaded from, through one of its symbols. */
static void resolved_path(void *handle, const char *symbol, char *out, size_t size) {
    Dl_info info;
    void *address = dlsym(handle, symbol);
    if (address && dladdr(address, &info) && info.dli_fname) {
        char real[PATH_MAX];
        copy(out, size, realpath(info.dli_fname, real) ? real : info.dli_fname);
    }
}

static const char *const LIBCRYPTO_SONAMES[] = {
    "libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so.10", "libcrypto.so.1.0.0",
    "libcrypto.so.1.0.2", "libcrypto.so", NULL};

static void *open_libcrypto(struct report *r) {
    void *handle = NULL;
    char loaded[PATH_MAX];
    if (r->opt.libcrypto) {
        copy(r->lib.how, sizeof r->lib.how, "explicit");
        handle = dlopen(r->opt.libcrypto, RTLD_NOW | RTLD_LOCAL);
    } else if (find_loaded("libcrypto", loaded, sizeof loaded)) {
        copy(r->lib.how, sizeof r->lib.how, "already-loaded");
        handle = dlopen(loaded, RTLD_LAZY | RTLD_NOLOAD);
    } else {
        copy(r->lib.how, sizeof r->lib.how, "soname");
        for (int i = 0; LIBCRYPTO_SONAMES[i] && !handle; i++)
            handle = dlopen(LIBCRYPTO_SONAMES[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (!handle) {
        const char *why = dlerror();
        copy(r->lib.error, sizeof r->lib.error,
             r->opt.libcrypto ? why : "no libcrypto is loaded or found under the usual sonames");
    }
    return handle;
}

static const char *const LIBRARY_DIRS[] = {
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/local/lib", "/usr/lib", NULL};

/* libwolfssl has no stable soname across releases (libwolfssl.so.24, .35, .42, ...), so the
 * library directories are listed instead of guessing version numbers. */
static int find_wolfssl_file(char *path, size_t size) {
    for (int i = 0; LIBRARY_DIRS[i]; i++) {
        DIR *dir = opendir(LIBRARY_DIRS[i]);
        if (!dir) continue;
        struct dirent *entry;
        int found = 0;
        while (!found && (entry = readdir(dir)) != NULL) {
            if (strncmp(entry->d_name, "libwolfssl.so", 13) == 0) {
                snprintf(path, size, "%s/%s", LIBRARY_DIRS[i], entry->d_name);
                found = 1;
            }
        }
        closedir(dir);
        if (found) return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* OpenSSL: version, family, FIPS mode.                                                         */

static void identify(struct report *r) {
    const char *version = r->c.OpenSSL_version ? r->c.OpenSSL_version(0)
                          : r->c.SSLeay_version ? r->c.SSLeay_version(0) : NULL;
    copy(r->lib.version, sizeof r->lib.version, version);
    r->lib.version_num = r->c.OpenSSL_version_num ? r->c.OpenSSL_version_num()
                         : r->c.SSLeay ? r->c.SSLeay() : 0;
    if (strstr(r->lib.version, "BoringSSL")) r->lib.family = "boringssl";
    else if (strstr(r->lib.version, "AWS-LC")) r->lib.family = "aws-lc";
    else if (r->c.OSSL_PROVIDER_do_all) r->lib.family = "openssl3";
    else r->lib.family = "openssl1";
    if (r->c.OPENSSL_info) {
        copy(r->lib.modules_dir, sizeof r->lib.modules_dir, r->c.OPENSSL_info(OPENSSL_INFO_MODULES_DIR));
        const char *env = getenv("OPENSSL_CONF");
        const char *dir = r->c.OPENSSL_info(OPENSSL_INFO_CONFIG_DIR);
        if (env) copy(r->lib.config_file, sizeof r->lib.config_file, env);
        else snprintf(r->lib.config_file, sizeof r->lib.config_file, "%s/openssl.cnf", dir ? dir : "");
    }
}

static int is_openssl3(const struct report *r) { return strcmp(r->lib.family, "openssl3") == 0; }

static void probe_fips_mode_legacy(struct report *r) {
    if (!r->c.FIPS_mode) return;
    r->fips_mode.known = 1;
    r->fips_mode.source = "FIPS_mode()";
    r->fips_mode.enabled = r->c.FIPS_mode() == 1;
    r->fips_mode.capable = -1;
    if (r->opt.try_fips_mode_set && !r->fips_mode.enabled && r->c.FIPS_mode_set) {
        clear_errors(r);
        r->fips_mode.capable = r->c.FIPS_mode_set(1) == 1;
        take_errors(r, r->fips_mode.set_error, sizeof r->fips_mode.set_error);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* OpenSSL 3: providers and self-tests.                                                         */

static void describe_provider(struct report *r, const void *provider, struct provider *out) {
    const char *name = NULL, *version = NULL, *buildinfo = NULL;
    int status = -1;
    ossl_param params[] = {
        {"name", PARAM_UTF8_PTR, &name, 0, PARAM_UNMODIFIED},
        {"version", PARAM_UTF8_PTR, &version, 0, PARAM_UNMODIFIED},
        {"buildinfo", PARAM_UTF8_PTR, &buildinfo, 0, PARAM_UNMODIFIED},
        {"status", PARAM_INTEGER, &status, sizeof status, PARAM_UNMODIFIED},
        {NULL, 0, NULL, 0, 0}};
    memset(out, 0, sizeof *out);
    copy(out->configured, sizeof out->configured, r->c.OSSL_PROVIDER_get0_name(provider));
    if (!r->c.OSSL_PROVIDER_get_params(provider, params)) clear_errors(r);
    copy(out->name, sizeof out->name, params[0].return_size != PARAM_UNMODIFIED ? name : NULL);
    copy(out->version, sizeof out->version, params[1].return_size != PARAM_UNMODIFIED ? version : NULL);
    copy(out->buildinfo, sizeof out->buildinfo,
         params[2].return_size != PARAM_UNMODIFIED ? buildinfo : NULL);
    out->status = params[3].return_size != PARAM_UNMODIFIED ? status : -1;
    /* By the name the provider gives itself: wolfProvider answers to "default" or "fips" in
     * replace-default mode, and OpenSSL's FIPS provider built without its self-tests calls
     * itself "non-compliant". A wolfProvider's claim is settled once wolfSSL is probed
     * (settle_wolfssl_providers). */
    out->fips = strstr(out->name, "FIPS") != NULL && strstr(out->name, "non-compliant") == NULL;
    out->wolfssl = strncmp(out->name, "wolfSSL Provider", 16) == 0;
}

struct provider_walk { struct report *report; struct provider *list; int *count; const void *fips; };

static int provider_walk_cb(void *provider, void *arg) {
    struct provider_walk *walk = arg;
    if (*walk->count >= MAX_PROVIDERS) return 1;
    struct provider *p = &walk->list[(*walk->count)++];
    describe_provider(walk->report, provider, p);
    if (p->fips && !walk->fips) walk->fips = provider;
    return 1;
}

/* Lists the providers of ctx; returns one FIPS provider among them (or NULL). */
static const void *list_providers(struct report *r, void *ctx, struct provider *list, int *count) {
    struct provider_walk walk = {r, list, count, NULL};
    r->c.OSSL_PROVIDER_do_all(ctx, provider_walk_cb, &walk);
    return walk.fips;
}

static const char *param_text(const ossl_param *p) {
    if (p->data_type == PARAM_UTF8_STRING) return p->data;
    if (p->data_type == PARAM_UTF8_PTR) return *(const char **)p->data;
    return NULL;
}

/* Records the outcome of each self-test. The "Start" phase announces a test and "Corrupt" asks
 * the callback whether to corrupt it on purpose (returning 0 would), so neither is recorded
 * and the answer is always 1. */
static int self_test_event_cb(const ossl_param *params, void *arg) {
    struct report *r = arg;
    struct event e = {"", "", ""};
    for (const ossl_param *p = params; p && p->key; p++) {
        const char *value = param_text(p);
        if (strcmp(p->key, "st-phase") == 0) copy(e.phase, sizeof e.phase, value);
        else if (strcmp(p->key, "st-type") == 0) copy(e.type, sizeof e.type, value);
        else if (strcmp(p->key, "st-desc") == 0) copy(e.desc, sizeof e.desc, value);
    }
    if (strcmp(e.phase, "Start") != 0 && strcmp(e.phase, "Corrupt") != 0 && r->self_test.n_events < MAX_EVENTS)
        r->self_test.events[r->self_test.n_events++] = e;
    return 1;
}

/*
 * Self-test events are only emitted while a FIPS module runs its self-tests, which happens
 * when the configuration activates it. The standalone owns its process and loads the
 * configuration into the default context once, with the callback registered first. Inside
 * another process (or when asked) the configuration is loaded into a private library context
 * instead, so the host process's OpenSSL state is not changed; the module's self-tests run
 * once per process, so when they ran before, they are rerun on demand in the private context.
 */
static void probe_self_tests(struct report *r) {
    int private_ctx = r->embedded || r->opt.private_context || strcmp(r->lib.how, "already-loaded") == 0;
    void *ctx = NULL;
    r->self_test.context = private_ctx ? "private" : "default";
    if (private_ctx) {
        if (!r->c.OSSL_LIB_CTX_new || !r->c.OSSL_LIB_CTX_load_config || !r->c.OSSL_LIB_CTX_free) return;
        ctx = r->c.OSSL_LIB_CTX_new();
        if (!ctx) return;
    }
    if (r->c.OSSL_SELF_TEST_set_callback) r->c.OSSL_SELF_TEST_set_callback(ctx, self_test_event_cb, r);
    clear_errors(r);
    /* Like OpenSSL's own start-up, a missing configuration file is not an error. */
    if (private_ctx && access(r->lib.config_file, R_OK) != 0) r->self_test.config_loaded = 1;
    else r->self_test.config_loaded = private_ctx
        ? r->c.OSSL_LIB_CTX_load_config(ctx, r->lib.config_file) == 1
        : r->c.OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) == 1;
    take_errors(r, r->self_test.config_errors, sizeof r->self_test.config_errors);
    if (!private_ctx) return; /* the default context's providers are listed by the caller */
    const void *fips = list_providers(r, ctx, r->self_test.providers, &r->self_test.n_providers);
    if (fips && r->self_test.n_events == 0 && r->c.OSSL_PROVIDER_self_test) {
        r->self_test.rerun = 1;
        r->c.OSSL_PROVIDER_self_test(fips);
        clear_errors(r);
    }
    if (r->c.OSSL_LIB_CTX_free) r->c.OSSL_LIB_CTX_free(ctx);
}

static void probe_default_sha256(struct report *r) {
    clear_errors(r);
    void *md = r->c.EVP_MD_fetch(NULL, "SHA2-256", NULL);
    if (!md) {
        take_errors(r, r->sha256.error, sizeof r->sha256.error);
        return;
    }
    r->sha256.fetched = 1;
    describe_provider(r, r->c.EVP_MD_get0_provider(md), &r->sha256.served_by);
    r->c.EVP_MD_free(md);
}

/* ------------------------------------------------------------------------------------------ */
/* Algorithms: known-answer tests of approved ones, refusal of non-approved ones.               */

enum kind { DIGEST, HMAC_DIGEST, CIPHER };

struct algorithm_test {
    const char *label, *name; /* name: the digest (also for HMAC) or cipher name */
    enum kind kind;
    const char *key, *iv, *input; /* hex, except input for digests and HMAC (text) */
    const char *expected;         /* hex; for GCM ciphertext then tag; NULL: not approved */
};

static const struct algorithm_test APPROVED[] = {
    {"SHA-256", "SHA256", DIGEST, NULL, NULL, "abc",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"SHA-384", "SHA384", DIGEST, NULL, NULL, "abc",
     "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
     "8086072ba1e7cc2358baeca134c825a7"},
    /* RFC 4231 test case 2 */
    {"HMAC-SHA256", "SHA256", HMAC_DIGEST, "4a656665", NULL, "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    /* GCM specification test case 14: zero key, IV and plaintext */
    {"AES-256-GCM", "AES-256-GCM", CIPHER,
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"},
    /* NIST SP 800-38A F.2.5, first block */
    {"AES-256-CBC", "AES-256-CBC", CIPHER,
     "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "000102030405060708090a0b0c0d0e0f", "6bc1bee22e409f96e93d7e117393172a",
     "f58c4c04d6e5f1ba779eabfb5f7bfbd6"},
};

static const struct algorithm_test NON_APPROVED[] = {
    {"MD5", "MD5", DIGEST, NULL, NULL, "abc", NULL},
    {"MD4", "MD4", DIGEST, NULL, NULL, "abc", NULL},
    {"RC4", "RC4", CIPHER, "000102030405060708090a0b0c0d0e0f", "", "00000000000000000000000000000000",
     NULL},
    {"DES", "DES-CBC", CIPHER, "0001020304050607", "0001020304050607",
     "00000000000000000000000000000000", NULL},
    {"HMAC-MD5", "MD5", HMAC_DIGEST, "4a656665", NULL, "what do ya want for nothing?", NULL},
};

_Static_assert(sizeof APPROVED / sizeof APPROVED[0] == N_ALGORITHMS, "one result per approved test");
_Static_assert(sizeof NON_APPROVED / sizeof NON_APPROVED[0] == N_ALGORITHMS, "one per refusal test");

static size_t unhex(const char *hex, unsigned char *out, size_t size) {
    size_t n = 0;
    for (; hex && hex[0] && hex[1] && n < size; hex += 2) {
        unsigned int byte;
        if (sscanf(hex, "%2x", &byte) != 1) break;
        out[n++] = (unsigned char)byte;
    }
    return n;
}

static void tohex(const unsigned char *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", in[i]);
    out[2 * n] = '\0';
}

/* The digest or cipher the way an application gets it: OpenSSL 3 fetches with the default
 * properties (and names the provider), older libraries look the name up. */
static const void *get_algorithm(struct report *r, const struct algorithm_test *t, struct algorithm *a,
                                 void **fetched) {
    *fetched = NULL;
    if (is_openssl3(r)) {
        int cipher = t->kind == CIPHER;
        *fetched = cipher ? r->c.EVP_CIPHER_fetch(NULL, t->name, NULL)
                          : t->kind == DIGEST ? r->c.EVP_MD_fetch(NULL, t->name, NULL)
                                              : r->c.EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (*fetched) {
            const void *provider = cipher ? r->c.EVP_CIPHER_get0_provider(*fetched)
                                   : t->kind == DIGEST ? r->c.EVP_MD_get0_provider(*fetched)
                                                       : r->c.EVP_MAC_get0_provider(*fetched);
            copy(a->provider, sizeof a->provider, r->c.OSSL_PROVIDER_get0_name(provider));
        }
        if (t->kind != HMAC_DIGEST) return *fetched;
    }
    return t->kind == CIPHER ? r->c.EVP_get_cipherbyname(t->name) : r->c.EVP_get_digestbyname(t->name);
}

static void release_algorithm(struct report *r, const struct algorithm_test *t, void *fetched) {
    if (!fetched) return;
    if (t->kind == CIPHER) r->c.EVP_CIPHER_free(fetched);
    else if (t->kind == DIGEST) r->c.EVP_MD_free(fetched);
    else r->c.EVP_MAC_free(fetched);
}

static size_t run_cipher(struct report *r, const void *cipher, const struct algorithm_test *t,
                         unsigned char *out) {
    unsigned char key[64] = {0}, iv[32] = {0}, input[64];
    unhex(t->key, key, sizeof key);
    unhex(t->iv, iv, sizeof iv);
    int n = (int)unhex(t->input, input, sizeof input), len = 0, tail = 0, ok = 0;
    void *ctx = r->c.EVP_CIPHER_CTX_new();
    if (!ctx) return 0;
    if (r->c.EVP_EncryptInit_ex(ctx, cipher, NULL, key, t->iv[0] ? iv : NULL) == 1) {
        r->c.EVP_CIPHER_CTX_set_padding(ctx, 0);
        ok = r->c.EVP_EncryptUpdate(ctx, out, &len, input, n) == 1 &&
             r->c.EVP_EncryptFinal_ex(ctx, out + len, &tail) == 1;
        len += tail;
        if (ok && strstr(t->name, "GCM")) {
            ok = r->c.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + len) == 1;
            len += 16;
        }
    }
    r->c.EVP_CIPHER_CTX_free(ctx);
    return ok ? (size_t)len : 0;
}

static size_t run_algorithm(struct report *r, const void *alg, const struct algorithm_test *t,
                            unsigned char *out) {
    unsigned int len = 0;
    const unsigned char *input = (const unsigned char *)t->input;
    if (t->kind == CIPHER) return run_cipher(r, alg, t, out);
    if (t->kind == DIGEST) return r->c.EVP_Digest(input, strlen(t->input), out, &len, alg, NULL) == 1 ? len : 0;
    unsigned char key[64];
    int keylen = (int)unhex(t->key, key, sizeof key);
    return r->c.HMAC(alg, key, keylen, input, strlen(t->input), out, &len) ? len : 0;
}

static void test_algorithm(struct report *r, const struct algorithm_test *t, struct algorithm *a) {
    unsigned char out[128];
    void *fetched;
    a->label = t->label;
    clear_errors(r);
    const void *alg = get_algorithm(r, t, a, &fetched);
    size_t n = alg ? run_algorithm(r, alg, t, out) : 0;
    take_errors(r, a->error, sizeof a->error);
    if (!alg && !a->error[0]) copy(a->error, sizeof a->error, "unknown to this library");
    a->served = n > 0;
    if (a->served && t->expected) {
        char hex[2 * sizeof out + 1];
        tohex(out, n, hex);
        a->correct = strcmp(hex, t->expected) == 0;
        if (!a->correct) snprintf(a->error, sizeof a->error, "wrong answer %s", hex);
    }
    release_algorithm(r, t, fetched);
}

static const char *missing_algorithm_symbol(const struct report *r) {
    if (!r->c.EVP_Digest) return "EVP_Digest";
    if (!r->c.HMAC) return "HMAC";
    if (!r->c.EVP_get_digestbyname) return "EVP_get_digestbyname";
    if (!r->c.EVP_get_cipherbyname) return "EVP_get_cipherbyname";
    if (!r->c.EVP_CIPHER_CTX_new || !r->c.EVP_EncryptInit_ex) return "EVP_EncryptInit_ex";
    if (is_openssl3(r) && (!r->c.EVP_MD_fetch || !r->c.EVP_CIPHER_fetch || !r->c.EVP_MAC_fetch))
        return "EVP_MAC_fetch";
    return NULL;
}

static void probe_algorithms(struct report *r) {
    const char *missing = missing_algorithm_symbol(r);
    if (missing) {
        snprintf(r->algorithms_error, sizeof r->algorithms_error, "libcrypto has no %s", missing);
        return;
    }
    r->algorithms_tested = 1;
    for (size_t i = 0; i < N_ALGORITHMS; i++) test_algorithm(r, &APPROVED[i], &r->approved[i]);
    for (size_t i = 0; i < N_ALGORITHMS; i++) test_algorithm(r, &NON_APPROVED[i], &r->non_approved[i]);
}

static void probe_openssl(struct report *r) {
    void *handle = open_libcrypto(r);
    if (!handle) return;
    r->lib.present = 1;
    load_crypto_api(&r->c, handle);
    resolved_path(handle, r->c.OpenSSL_version ? "OpenSSL_version" : "SSLeay_version", r->lib.path,
                  sizeof r->lib.path);
    identify(r);
    if (is_openssl3(r)) {
        probe_self_tests(r);
        r->fips_mode.known = 1;
        r->fips_mode.source = "EVP_default_properties_is_fips_enabled(NULL)";
        r->fips_mode.enabled = r->c.EVP_default_properties_is_fips_enabled(NULL) == 1;
        r->fips_mode.capable = -1;
        list_providers(r, NULL, r->providers, &r->n_providers);
        probe_default_sha256(r);
    } else {
        if (r->c.OPENSSL_init_crypto)
            r->c.OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_ADD_ALL_CIPHERS |
                                     OPENSSL_INIT_ADD_ALL_DIGESTS, NULL);
        else if (r->c.OPENSSL_add_all_algorithms_noconf)
            r->c.OPENSSL_add_all_algorithms_noconf();
        probe_fips_mode_legacy(r);
    }
    probe_algorithms(r);
}

/* ------------------------------------------------------------------------------------------ */
/* wolfSSL.                                                                                     */

static const char *wolfssl_error_name(int code) {
    switch (code) {
    case 0: return "OK";
    case -127: return "FIPS_DEGRADED_E";
    case -197: return "FIPS_NOT_ALLOWED_E";
    case -203: return "IN_CORE_FIPS_E";
    case -204: return "AES_KAT_FIPS_E";
    case -206: return "HMAC_KAT_FIPS_E";
    case -207: return "RSA_KAT_FIPS_E";
    case -208: return "DRBG_KAT_FIPS_E";
    case -209: return "DRBG_CONT_FIPS_E";
    case -210: return "AESGCM_KAT_FIPS_E";
    default: return "unknown error";
    }
}

static const char *wolfssl_mode_name(int mode) {
    static const char *const names[] = {"INIT", "NORMAL", "DEGRADED", "FAILED"};
    return mode >= 0 && mode < 4 ? names[mode] : "unknown";
}

static void probe_wolfssl(struct report *r) {
    char *path = r->wolfssl.path;
    size_t size = sizeof r->wolfssl.path;
    void *handle = NULL;
    if (r->opt.wolfssl) {
        copy(path, size, r->opt.wolfssl);
        r->wolfssl.found_by = "explicit";
    } else if (find_loaded("libwolfssl", path, size)) r->wolfssl.found_by = "already-loaded";
    else if (find_wolfssl_file(path, size)) r->wolfssl.found_by = "library-dir";
    else return;
    r->wolfssl.present = 1;
    /* A FIPS build checks its own integrity in an ELF constructor, i.e. right here. */
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        copy(r->wolfssl.error, sizeof r->wolfssl.error, dlerror());
        return;
    }
    r->wolfssl.loaded = 1;
    load_wolfssl_api(&r->w, handle);
    char real[PATH_MAX];
    if (realpath(path, real)) copy(path, size, real);
    if (r->w.wolfSSL_lib_version) copy(r->wolfssl.version, sizeof r->wolfssl.version, r->w.wolfSSL_lib_version());
    r->wolfssl.fips_build = r->w.wolfCrypt_GetStatus_fips != NULL;
    if (!r->wolfssl.fips_build) return;
    r->wolfssl.status = r->w.wolfCrypt_GetStatus_fips();
    if (r->w.wolfCrypt_GetVersion_fips)
        copy(r->wolfssl.fips_version, sizeof r->wolfssl.fips_version, r->w.wolfCrypt_GetVersion_fips());
    if (r->w.wolfCrypt_GetCoreHash_fips)
        copy(r->wolfssl.core_hash, sizeof r->wolfssl.core_hash, r->w.wolfCrypt_GetCoreHash_fips());
    if ((r->wolfssl.has_mode = r->w.wolfCrypt_GetMode_fips != NULL)) r->wolfssl.mode = r->w.wolfCrypt_GetMode_fips();
    if ((r->wolfssl.has_cast = r->w.wc_RunAllCast_fips != NULL)) r->wolfssl.cast = r->w.wc_RunAllCast_fips();
}

/* ------------------------------------------------------------------------------------------ */
/* Verdicts, one per fipscheck check ID.                                                        */

static struct check *verdict(struct report *r, int index, const char *id, enum status status,
                             const char *format, ...) {
    struct check *c = &r->checks[index];
    va_list args;
    c->id = id;
    c->status = status;
    va_start(args, format);
    vsnprintf(c->message, sizeof c->message, format, args);
    va_end(args);
    return c;
}

static const struct provider *first_active_fips_provider(const struct report *r) {
    for (int i = 0; i < r->n_providers; i++)
        if (r->providers[i].fips && r->providers[i].status == 1) return &r->providers[i];
    return NULL;
}

static const struct provider *first_wolfssl_provider(const struct report *r) {
    for (int i = 0; i < r->n_providers; i++)
        if (r->providers[i].wolfssl) return &r->providers[i];
    return NULL;
}

/* The wolfSSL a wolfProvider runs on is the libwolfssl loaded with it in this process: the
 * one wolfssl.fips examined, when it was found already loaded. */
static int wolfssl_of_provider_is_fips(const struct report *r) {
    return r->wolfssl.present && strcmp(r->wolfssl.found_by, "already-loaded") == 0 &&
           r->checks[CHECK_WOLFSSL].status == ST_PASS;
}

static const char *wolfssl_summary(const struct report *r) {
    if (!r->wolfssl.present || strcmp(r->wolfssl.found_by, "already-loaded") != 0) return "its wolfSSL unconfirmed";
    if (!r->wolfssl.loaded || !r->wolfssl.fips_build) return "wolfSSL not a FIPS build";
    return "wolfSSL FIPS module failing";
}

static const char *wolfssl_detail(const struct report *r, char *out, size_t size) {
    if (!r->wolfssl.present) copy(out, size, "no libwolfssl loaded in this process");
    else if (strcmp(r->wolfssl.found_by, "already-loaded") != 0)
        snprintf(out, size, "a libwolfssl not loaded in this process (%s, found by %s)", r->wolfssl.path,
                 r->wolfssl.found_by);
    else if (r->wolfssl.loaded && !r->wolfssl.fips_build)
        snprintf(out, size, "%s %s, which exports no wolfCrypt_GetStatus_fips", r->wolfssl.path, r->wolfssl.version);
    else snprintf(out, size, "%s (%s)", r->wolfssl.path, r->checks[CHECK_WOLFSSL].message);
    return out;
}

/* wolfProvider's name says FIPS when it was built against a wolfSSL FIPS build, but its
 * crypto is whatever libwolfssl the loader found at run time: the claim stands only when that
 * library is a FIPS build in good state (wolfssl.fips passes for it). */
static void settle_wolfssl_providers(struct report *r) {
    struct provider *lists[] = {r->providers, r->self_test.providers, &r->sha256.served_by};
    int counts[] = {r->n_providers, r->self_test.n_providers, r->sha256.fetched};
    int confirmed = wolfssl_of_provider_is_fips(r);
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (int i = 0; i < counts[l]; i++)
            if (lists[l][i].wolfssl) lists[l][i].fips &= confirmed;
}

static void provider_names(const struct report *r, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < r->n_providers && used + 3 < size; i++)
        used += snprintf(out + used, size - used, "%s%s (%s)", i ? ", " : "", r->providers[i].configured,
                         r->providers[i].name[0] ? r->providers[i].name : "no name");
    if (!r->n_providers) copy(out, size, "none");
}

static void judge_fips_mode(struct report *r) {
    const char *id = "openssl.fips-mode";
    if (!r->lib.present) { verdict(r, CHECK_FIPS_MODE, id, ST_SKIP, "no libcrypto: %s", r->lib.error); return; }
    if (!r->fips_mode.known) { verdict(r, CHECK_FIPS_MODE, id, ST_ERROR, "%s exports no FIPS mode query", r->lib.version); return; }
    if (!is_openssl3(r)) {
        if (r->fips_mode.enabled) verdict(r, CHECK_FIPS_MODE, id, ST_PASS, "FIPS_mode() is 1 (%s)", r->lib.version);
        else if (r->fips_mode.capable == 1)
            verdict(r, CHECK_FIPS_MODE, id, ST_FAIL, "FIPS mode is off at start-up, but the library is FIPS-capable "
                    "(FIPS_mode_set(1) succeeded)");
        else if (r->fips_mode.capable == 0)
            verdict(r, CHECK_FIPS_MODE, id, ST_FAIL, "FIPS mode is off and the library is not FIPS-capable "
                    "(FIPS_mode_set(1) failed: %s)", r->fips_mode.set_error);
        else verdict(r, CHECK_FIPS_MODE, id, ST_FAIL, "FIPS_mode() is 0 (%s)", r->lib.version);
        return;
    }
    if (!r->fips_mode.enabled)
        verdict(r, CHECK_FIPS_MODE, id, ST_FAIL, "the default properties do not ask for fips=yes");
    else if (!r->sha256.fetched)
        verdict(r, CHECK_FIPS_MODE, id, ST_FAIL, "fips=yes is the default, but no provider serves SHA2-256: %s",
                r->sha256.error);
    else if (!r->sha256.served_by.fips)
        verdict(r, CHECK_FIPS_MODE, id, ST_FAIL, "fips=yes is the default, but SHA2-256 is served by %s (%s)",
                r->sha256.served_by.configured, r->sha256.served_by.name);
    else
        verdict(r, CHECK_FIPS_MODE, id, ST_PASS, "fips=yes is the default and SHA2-256 is served by %s (%s)",
                r->sha256.served_by.configured, r->sha256.served_by.name);
}

static void judge_fips_provider(struct report *r) {
    const char *id = "openssl.fips-provider";
    char names[ERRLEN];
    if (!r->lib.present) { verdict(r, CHECK_FIPS_PROVIDER, id, ST_SKIP, "no libcrypto: %s", r->lib.error); return; }
    if (!is_openssl3(r)) {
        verdict(r, CHECK_FIPS_PROVIDER, id, ST_SKIP, "%s has no providers (see openssl.fips-mode)", r->lib.version);
        return;
    }
    provider_names(r, names, sizeof names);
    const struct provider *fips = first_active_fips_provider(r), *wolf = first_wolfssl_provider(r);
    char why[PATH_MAX + 2 * ERRLEN]; /* a path and a message; the verdict's own buffer bounds it */
    if (fips)
        verdict(r, CHECK_FIPS_PROVIDER, id, ST_PASS, "FIPS provider %s (%s %s) is active; loaded: %s", fips->configured,
                fips->name, fips->version, names);
    else if (wolf)
        verdict(r, CHECK_FIPS_PROVIDER, id, ST_FAIL, "%s %s, %s: %s (%s %s) runs on %s; loaded: %s", wolf->name,
                wolf->status == 1 ? "active" : "inactive", wolfssl_summary(r), wolf->configured, wolf->name,
                wolf->version, wolfssl_detail(r, why, sizeof why), names);
    else verdict(r, CHECK_FIPS_PROVIDER, id, ST_FAIL, "no active FIPS provider; loaded: %s", names);
}

/* The first self-test event with the given phase (NULL: none). */
static const struct event *event_with_phase(const struct report *r, const char *phase, const char *type) {
    for (int i = 0; i < r->self_test.n_events; i++) {
        const struct event *e = &r->self_test.events[i];
        if (strcmp(e->phase, phase) == 0 && (!type || strcmp(e->type, type) == 0)) return e;
    }
    return NULL;
}

static void judge_integrity_legacy(struct report *r) {
    const char *id = "openssl.module-integrity";
    if (!r->fips_mode.enabled || !r->c.FIPS_selftest_failed)
        verdict(r, CHECK_INTEGRITY, id, ST_SKIP, "no FIPS module is active in %s", r->lib.version);
    else if (r->c.FIPS_selftest_failed())
        verdict(r, CHECK_INTEGRITY, id, ST_FAIL, "the FIPS module's self-test failed (FIPS_selftest_failed() != 0)");
    else verdict(r, CHECK_INTEGRITY, id, ST_PASS, "FIPS mode is on and FIPS_selftest_failed() is 0 (%s)",
                 r->c.FIPS_module_version_text ? r->c.FIPS_module_version_text() : r->lib.version);
}

static void judge_module_integrity(struct report *r) {
    const char *id = "openssl.module-integrity";
    if (!r->lib.present) { verdict(r, CHECK_INTEGRITY, id, ST_SKIP, "no libcrypto: %s", r->lib.error); return; }
    if (!is_openssl3(r)) { judge_integrity_legacy(r); return; }
    const struct event *bad = event_with_phase(r, "Fail", NULL);
    const struct event *integrity = event_with_phase(r, "Pass", "Module_Integrity");
    const struct provider *active = first_active_fips_provider(r);
    int fips_loaded = active != NULL, openssl_module = active && !active->wolfssl;
    for (int i = 0; i < r->self_test.n_providers; i++) {
        fips_loaded |= r->self_test.providers[i].fips;
        openssl_module |= r->self_test.providers[i].fips && !r->self_test.providers[i].wolfssl;
    }
    if (bad)
        verdict(r, CHECK_INTEGRITY, id, ST_FAIL, "self-test %s (%s) reported %s; %s", bad->type, bad->desc, bad->phase,
                r->self_test.config_errors[0] ? r->self_test.config_errors : "no error queued");
    else if (fips_loaded && integrity)
        verdict(r, CHECK_INTEGRITY, id, ST_PASS, "the FIPS module's integrity test passed (%d self-test events, "
                "none failed)", r->self_test.n_events);
    else if (fips_loaded && !openssl_module) /* a FIPS wolfProvider counts only when wolfssl.fips passed */
        verdict(r, CHECK_INTEGRITY, id, ST_PASS, "the FIPS module is wolfSSL's, which checks its own integrity "
                "(OpenSSL runs no self-tests for wolfProvider): %s", r->checks[CHECK_WOLFSSL].message);
    else if (fips_loaded)
        verdict(r, CHECK_INTEGRITY, id, ST_ERROR, "a FIPS provider is loaded but no integrity self-test was observed");
    else if (!r->self_test.config_loaded)
        verdict(r, CHECK_INTEGRITY, id, ST_FAIL, "the configuration %s failed to load: %s", r->lib.config_file,
                r->self_test.config_errors[0] ? r->self_test.config_errors : "no error queued");
    else verdict(r, CHECK_INTEGRITY, id, ST_SKIP, "no FIPS provider is configured in %s", r->lib.config_file);
}

static void list_algorithms(const struct algorithm *list, int want_served, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < N_ALGORITHMS && used + 3 < size; i++) {
        const struct algorithm *a = &list[i];
        int hit = want_served ? a->served : !(a->served && a->correct);
        if (hit) used += snprintf(out + used, size - used, "%s%s%s%s", used ? ", " : "", a->label,
                                  a->provider[0] ? " by " : "", a->provider);
    }
}

static void judge_algorithms(struct report *r) {
    char list[ERRLEN];
    if (!r->lib.present) {
        verdict(r, CHECK_APPROVED, "algorithms.approved", ST_SKIP, "no libcrypto: %s", r->lib.error);
        verdict(r, CHECK_NON_APPROVED, "algorithms.non-approved", ST_SKIP, "no libcrypto: %s", r->lib.error);
        return;
    }
    if (!r->algorithms_tested) {
        verdict(r, CHECK_APPROVED, "algorithms.approved", ST_ERROR, "%s", r->algorithms_error);
        verdict(r, CHECK_NON_APPROVED, "algorithms.non-approved", ST_ERROR, "%s", r->algorithms_error);
        return;
    }
    list_algorithms(r->approved, 0, list, sizeof list);
    if (list[0]) verdict(r, CHECK_APPROVED, "algorithms.approved", ST_FAIL, "known-answer tests failed: %s", list);
    else verdict(r, CHECK_APPROVED, "algorithms.approved", ST_PASS, "SHA-256, SHA-384, HMAC-SHA256, AES-256-GCM and "
                 "AES-256-CBC gave their known answers");
    list_algorithms(r->non_approved, 1, list, sizeof list);
    if (strcmp(r->lib.family, "boringssl") == 0 || strcmp(r->lib.family, "aws-lc") == 0)
        verdict(r, CHECK_NON_APPROVED, "algorithms.non-approved", ST_SKIP, "%s serves non-approved algorithms by design "
                "(approval is reported per call by its service indicator); served: %s", r->lib.family, list);
    else if (list[0]) verdict(r, CHECK_NON_APPROVED, "algorithms.non-approved", ST_FAIL, "non-approved algorithms served: %s", list);
    else verdict(r, CHECK_NON_APPROVED, "algorithms.non-approved", ST_PASS, "MD5, MD4, RC4, DES and HMAC-MD5 were refused");
}

static void judge_wolfssl(struct report *r) {
    const char *id = "wolfssl.fips";
    if (!r->wolfssl.present) verdict(r, CHECK_WOLFSSL, id, ST_SKIP, "no libwolfssl is loaded or installed");
    else if (!r->wolfssl.loaded)
        verdict(r, CHECK_WOLFSSL, id, ST_ERROR, "%s could not be loaded: %s", r->wolfssl.path, r->wolfssl.error);
    else if (!r->wolfssl.fips_build)
        verdict(r, CHECK_WOLFSSL, id, ST_FAIL, "wolfSSL present, not a FIPS build (%s exports no "
                "wolfCrypt_GetStatus_fips)", r->wolfssl.path);
    else if (r->wolfssl.status != 0)
        verdict(r, CHECK_WOLFSSL, id, ST_FAIL, "wolfCrypt FIPS status %d (%s)", r->wolfssl.status,
                wolfssl_error_name(r->wolfssl.status));
    else if (r->wolfssl.has_mode && r->wolfssl.mode != 1)
        verdict(r, CHECK_WOLFSSL, id, ST_FAIL, "wolfCrypt FIPS mode is %s", wolfssl_mode_name(r->wolfssl.mode));
    else if (r->wolfssl.has_cast && r->wolfssl.cast != 0)
        verdict(r, CHECK_WOLFSSL, id, ST_FAIL, "wolfCrypt CASTs failed (wc_RunAllCast_fips() = %d)", r->wolfssl.cast);
    else verdict(r, CHECK_WOLFSSL, id, ST_PASS, "wolfCrypt FIPS %s: status 0 (OK)", r->wolfssl.fips_version);
}

static void add_requirement(struct report *r, int met, const char *message, const char *kind,
                            const char *what) {
    struct requirement *q = &r->requirements[r->n_requirements++];
    snprintf(q->what, sizeof q->what, "%s%s", kind, what);
    q->met = met;
    copy(q->message, sizeof q->message, message);
}

static void judge_requirements(struct report *r) {
    for (int i = 0; i < r->opt.n_required_providers; i++) {
        const char *want = r->opt.required_providers[i];
        int met = 0;
        for (int j = 0; j < r->n_providers; j++) {
            const struct provider *p = &r->providers[j];
            met |= p->status == 1 && (strcmp(p->configured, want) == 0 || strcmp(p->name, want) == 0);
        }
        add_requirement(r, met, met ? "active" : "not an active provider", "provider ", want);
    }
    if (r->opt.require_wolfssl)
        add_requirement(r, r->checks[CHECK_WOLFSSL].status == ST_PASS, r->checks[CHECK_WOLFSSL].message, "", "wolfSSL FIPS");
}

static void judge(struct report *r) {
    judge_wolfssl(r);
    settle_wolfssl_providers(r);
    judge_fips_mode(r);
    judge_fips_provider(r);
    judge_module_integrity(r);
    judge_algorithms(r);
    judge_requirements(r);
    int any_pass = 0, any_fail = 0, any_error = 0;
    for (int i = 0; i < N_CHECKS; i++) {
        any_pass |= r->checks[i].status == ST_PASS;
        any_fail |= r->checks[i].status == ST_FAIL;
        any_error |= r->checks[i].status == ST_ERROR;
    }
    for (int i = 0; i < r->n_requirements; i++) any_fail |= !r->requirements[i].met;
    /* Fail closed: nothing verified is not compliant-by-default, it is "could not check". */
    r->verdict = any_fail ? ST_FAIL : (any_error || !any_pass) ? ST_ERROR : ST_PASS;
}

static int exit_code(const struct report *r) {
    return r->verdict == ST_PASS ? 0 : r->verdict == ST_FAIL ? 1 : 2;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON: a growable buffer and a writer that places the commas.                                 */

struct out { char *data; size_t len, cap; int failed; int first[32]; int depth; };

static void put(struct out *o, const char *s, size_t n) {
    if (o->failed) return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->cap ? o->cap * 2 : 4096) + n;
        char *data = realloc(o->data, cap);
        if (!data) { o->failed = 1; return; }
        o->data = data;
        o->cap = cap;
    }
    memcpy(o->data + o->len, s, n);
    o->len += n;
    o->data[o->len] = '\0';
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void putf(struct out *o, const char *format, ...) {
    char buffer[PATH_MAX + ERRLEN];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    if (n > 0) put(o, buffer, (size_t)n < sizeof buffer ? (size_t)n : sizeof buffer - 1);
}

static void separator(struct out *o) {
    if (o->depth > 0 && !o->first[o->depth]) puts_(o, ",");
    o->first[o->depth] = 0;
}

static void key(struct out *o, const char *name) {
    separator(o);
    putf(o, "\"%s\":", name);
    o->first[o->depth] = 2; /* the value that follows takes no comma */
}

static void value_prefix(struct out *o) {
    if (o->first[o->depth] == 2) o->first[o->depth] = 0;
    else separator(o);
}

static void open_(struct out *o, const char *bracket) {
    value_prefix(o);
    puts_(o, bracket);
    o->first[++o->depth] = 1;
}

/* "name": followed by an opening bracket */
static void kopen(struct out *o, const char *name, const char *bracket) {
    key(o, name);
    open_(o, bracket);
}

static void close_(struct out *o, const char *bracket) {
    o->depth--;
    puts_(o, bracket);
}

static void jstr(struct out *o, const char *s) {
    value_prefix(o);
    if (!s) { puts_(o, "null"); return; }
    puts_(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') { char e[3] = {'\\', (char)*p, 0}; puts_(o, e); }
        else if (*p < 0x20) putf(o, "\\u%04x", *p);
        else put(o, (const char *)p, 1);
    }
    puts_(o, "\"");
}

static void jint(struct out *o, long v) { value_prefix(o); putf(o, "%ld", v); }
static void jbool(struct out *o, int v) { value_prefix(o); puts_(o, v ? "true" : "false"); }
static void jnull(struct out *o) { value_prefix(o); puts_(o, "null"); }
static const char *or_null(const char *s) { return s && s[0] ? s : NULL; }

static void kstr(struct out *o, const char *k, const char *v) { key(o, k); jstr(o, or_null(v)); }
static void kint(struct out *o, const char *k, long v) { key(o, k); jint(o, v); }
static void kbool(struct out *o, const char *k, int v) { key(o, k); jbool(o, v); }

static void json_providers(struct out *o, const struct provider *list, int n) {
    open_(o, "[");
    for (int i = 0; i < n; i++) {
        open_(o, "{");
        kstr(o, "name", list[i].name);
        kstr(o, "configured_name", list[i].configured);
        kstr(o, "version", list[i].version);
        kstr(o, "buildinfo", list[i].buildinfo);
        key(o, "status");
        if (list[i].status < 0) jnull(o); else jint(o, list[i].status);
        kbool(o, "fips", list[i].fips);
        kbool(o, "wolfssl", list[i].wolfssl);
        close_(o, "}");
    }
    close_(o, "]");
}

static void json_algorithms(struct out *o, const struct algorithm *list, int approved) {
    open_(o, "[");
    for (int i = 0; i < N_ALGORITHMS && list[i].label; i++) {
        open_(o, "{");
        kstr(o, "algorithm", list[i].label);
        kbool(o, "served", list[i].served);
        if (approved) kbool(o, "correct", list[i].correct);
        else kbool(o, "refused", !list[i].served);
        kstr(o, "provider", list[i].provider);
        kstr(o, "error", list[i].error);
        close_(o, "}");
    }
    close_(o, "]");
}

static void json_library(struct out *o, const struct report *r) {
    const char *const fields[][2] = {
        {"path", r->lib.path}, {"found_by", r->lib.how}, {"version", r->lib.version},
        {"family", r->lib.present ? r->lib.family : "none"}, {"modules_dir", r->lib.modules_dir},
        {"config_file", r->lib.config_file}, {"error", r->lib.error}};
    kopen(o, "libcrypto", "{");
    kbool(o, "present", r->lib.present);
    kint(o, "version_number", (long)r->lib.version_num);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) kstr(o, fields[i][0], fields[i][1]);
    close_(o, "}");
}

static void json_fips_mode(struct out *o, const struct report *r) {
    kopen(o, "fips_mode", "{");
    key(o, "enabled");
    if (r->fips_mode.known) jbool(o, r->fips_mode.enabled); else jnull(o);
    kstr(o, "source", r->fips_mode.source);
    key(o, "fips_mode_set");
    if (r->fips_mode.capable < 0 || !r->fips_mode.known) jnull(o);
    else {
        open_(o, "{");
        kbool(o, "succeeded", r->fips_mode.capable);
        kstr(o, "error", r->fips_mode.set_error);
        close_(o, "}");
    }
    close_(o, "}");
}

static void json_self_tests(struct out *o, const struct report *r) {
    kopen(o, "self_tests", "{");
    kstr(o, "context", r->self_test.context);
    kbool(o, "config_loaded", r->self_test.config_loaded);
    kstr(o, "config_errors", r->self_test.config_errors);
    kbool(o, "rerun_on_demand", r->self_test.rerun);
    kopen(o, "events", "[");
    for (int i = 0; i < r->self_test.n_events; i++) {
        open_(o, "{");
        kstr(o, "phase", r->self_test.events[i].phase);
        kstr(o, "type", r->self_test.events[i].type);
        kstr(o, "desc", r->self_test.events[i].desc);
        close_(o, "}");
    }
    close_(o, "]");
    key(o, "private_context_providers");
    json_providers(o, r->self_test.providers, r->self_test.n_providers);
    close_(o, "}");
}

static void json_wolfssl(struct out *o, const struct report *r) {
    const char *const fields[][2] = {
        {"path", r->wolfssl.path}, {"version", r->wolfssl.version},
        {"fips_status_name", r->wolfssl.fips_build ? wolfssl_error_name(r->wolfssl.status) : NULL},
        {"fips_version", r->wolfssl.fips_version}, {"core_hash", r->wolfssl.core_hash},
        {"fips_mode", r->wolfssl.has_mode ? wolfssl_mode_name(r->wolfssl.mode) : NULL},
        {"error", r->wolfssl.error}};
    kopen(o, "wolfssl", "{");
    kbool(o, "present", r->wolfssl.present);
    kbool(o, "loaded", r->wolfssl.loaded);
    kbool(o, "fips_build", r->wolfssl.fips_build);
    kstr(o, "found_by", r->wolfssl.found_by);
    key(o, "fips_status");
    if (r->wolfssl.fips_build) jint(o, r->wolfssl.status); else jnull(o);
    key(o, "cast_result");
    if (r->wolfssl.has_cast) jint(o, r->wolfssl.cast); else jnull(o);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) kstr(o, fields[i][0], fields[i][1]);
    close_(o, "}");
}

static void json_verdicts(struct out *o, const struct report *r) {
    kopen(o, "checks", "[");
    for (int i = 0; i < N_CHECKS; i++) {
        open_(o, "{");
        kstr(o, "id", r->checks[i].id);
        kstr(o, "status", STATUS_NAMES[r->checks[i].status]);
        kstr(o, "message", r->checks[i].message);
        close_(o, "}");
    }
    close_(o, "]");
    kopen(o, "requirements", "[");
    for (int i = 0; i < r->n_requirements; i++) {
        open_(o, "{");
        kstr(o, "requirement", r->requirements[i].what);
        kbool(o, "met", r->requirements[i].met);
        kstr(o, "message", r->requirements[i].message);
        close_(o, "}");
    }
    close_(o, "]");
    kstr(o, "verdict", STATUS_NAMES[r->verdict]);
    kint(o, "exit_code", exit_code(r));
}

static void json_report(struct out *o, const struct report *r) {
    open_(o, "{");
    kint(o, "schema_version", SCHEMA_VERSION);
    kstr(o, "tool", "fips-startup-check " FSC_VERSION);
    kint(o, "pid", (long)getpid());
    json_library(o, r);
    json_fips_mode(o, r);
    key(o, "providers");
    json_providers(o, r->providers, r->n_providers);
    json_self_tests(o, r);
    kopen(o, "default_sha256", "{");
    kbool(o, "fetched", r->sha256.fetched);
    kstr(o, "provider", r->sha256.served_by.configured);
    kstr(o, "provider_name", r->sha256.served_by.name);
    kbool(o, "provider_is_fips", r->sha256.served_by.fips);
    kstr(o, "error", r->sha256.error);
    close_(o, "}");
    kopen(o, "algorithms", "{");
    kstr(o, "error", r->algorithms_error);
    key(o, "approved");
    json_algorithms(o, r->approved, 1);
    key(o, "non_approved");
    json_algorithms(o, r->non_approved, 0);
    close_(o, "}");
    json_wolfssl(o, r);
    json_verdicts(o, r);
    close_(o, "}");
}

/* ------------------------------------------------------------------------------------------ */
/* Text for people (the standalone's --text).                                                   */

#ifndef FSC_NO_MAIN
static void text_report(struct out *o, const struct report *r) {
    if (r->lib.present)
        putf(o, "libcrypto: %s (%s, %s)\n", r->lib.path, r->lib.version, r->lib.family);
    else putf(o, "libcrypto: none (%s)\n", r->lib.error);
    for (int i = 0; i < r->n_providers; i++)
        putf(o, "  provider %s: %s %s (status %d%s)\n", r->providers[i].configured, r->providers[i].name,
             r->providers[i].version, r->providers[i].status, r->providers[i].fips ? ", FIPS" : "");
    int passed = 0;
    for (int i = 0; i < r->self_test.n_events; i++) {
        const struct event *e = &r->self_test.events[i];
        if (strcmp(e->phase, "Pass") == 0) passed++;
        else putf(o, "  self-test %s %s: %s\n", e->type, e->desc, e->phase);
    }
    if (passed) putf(o, "  self-tests passed: %d\n", passed);
    if (r->wolfssl.present) putf(o, "wolfssl: %s %s\n", r->wolfssl.path, r->wolfssl.version);
    for (int i = 0; i < N_CHECKS; i++)
        putf(o, "  %-6s %-25s %s\n", STATUS_NAMES[r->checks[i].status], r->checks[i].id, r->checks[i].message);
    for (int i = 0; i < r->n_requirements; i++)
        putf(o, "  %-6s requires %s: %s\n", r->requirements[i].met ? "met" : "UNMET", r->requirements[i].what,
             r->requirements[i].message);
    putf(o, "verdict: %s\n", r->verdict == ST_PASS ? "compliant" : r->verdict == ST_FAIL ? "not compliant"
                                                                                          : "could not check");
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Options, the in-process entry point, and main.                                              */

/* What main() does instead of a report: print help or the version (exit 0). */
enum { RUN_REPORT, RUN_HELP, RUN_VERSION };

/* Parses argv (argv[0] is the program); returns NULL or what was wrong. */
static const char *parse_options(int argc, char **argv, struct options *opt, char *why, size_t size) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--") == 0) {
            if (!has_value) return "-- needs a command";
            opt->command = argv + i + 1;
            return NULL;
        }
        if (strcmp(a, "--help") == 0) opt->info = RUN_HELP;
        else if (strcmp(a, "--version") == 0) opt->info = RUN_VERSION;
        else if (strcmp(a, "--text") == 0) opt->text = 1;
        else if (strcmp(a, "--warn-only") == 0) opt->warn_only = 1;
        else if (strcmp(a, "--try-fips-mode-set") == 0) opt->try_fips_mode_set = 1;
        else if (strcmp(a, "--require-wolfssl") == 0) opt->require_wolfssl = 1;
        else if (strcmp(a, "--private-context") == 0) opt->private_context = 1;
        else if (strcmp(a, "--libcrypto") == 0 && has_value) opt->libcrypto = argv[++i];
        else if (strcmp(a, "--wolfssl") == 0 && has_value) opt->wolfssl = argv[++i];
        else if (strcmp(a, "--require-provider") == 0 && has_value && opt->n_required_providers < MAX_REQUIRED)
            opt->required_providers[opt->n_required_providers++] = argv[++i];
        else {
            snprintf(why, size, "unknown option or missing value: %s", a);
            return why;
        }
    }
    return NULL;
}

static void make_report(struct report *r) {
    probe_openssl(r);
    probe_wolfssl(r);
    judge(r);
}

/* The in-process entry point of the cffi extension: the JSON report (malloc'd, release with
 * fsc_free), or a JSON object with "usage_error". argv[0] is ignored. */
char *fsc_report_json(int argc, char **argv) {
    struct out o = {0};
    char why[ERRLEN];
    struct report *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->embedded = 1;
    const char *error = parse_options(argc, argv, &r->opt, why, sizeof why);
    if (!error && (r->opt.text || r->opt.command || r->opt.warn_only || r->opt.info))
        error = "not available in-process";
    if (error) {
        open_(&o, "{");
        kint(&o, "schema_version", SCHEMA_VERSION);
        kstr(&o, "usage_error", error);
        close_(&o, "}");
    } else {
        make_report(r);
        json_report(&o, r);
    }
    free(r);
    return o.failed ? (free(o.data), NULL) : o.data;
}

void fsc_free(char *p) { free(p); }

#ifndef FSC_NO_MAIN
static const char USAGE[] =
    "usage: fips-startup-check [--text] [--libcrypto PATH] [--wolfssl PATH] [--try-fips-mode-set]\n"
    "                          [--private-context] [--require-provider NAME]... [--require-wolfssl]\n"
    "                          [--warn-only] [-- CMD ARGS...]\n"
    "       fips-startup-check --help | --version\n";

static const char HELP[] =
    "\n"
    "Reports the FIPS state of this process's crypto libraries (the libcrypto the dynamic linker\n"
    "finds, and libwolfssl) as JSON, or with -- CMD works as an entrypoint preflight: CMD is\n"
    "exec'd (same PID) when the checks pass; otherwise one line per failed check goes to stderr,\n"
    "as `fips-startup-check: STATUS CHECK-ID: MESSAGE`, and CMD is not started.\n"
    "\n"
    "options:\n"
    "  --text                  a report for people instead of JSON\n"
    "  --libcrypto PATH        check this libcrypto instead of the one the loader finds\n"
    "  --wolfssl PATH          check this libwolfssl\n"
    "  --try-fips-mode-set     OpenSSL 1.x: tell \"FIPS-capable but off\" from \"not capable\"\n"
    "  --private-context       load the configuration in a private OpenSSL library context\n"
    "  --require-provider NAME require this active provider (configured name or name)\n"
    "  --require-wolfssl       require a FIPS wolfSSL in good state\n"
    "  --warn-only             with -- CMD: print the failures, then start CMD anyway\n"
    "  --help, --version       this help, or the version, on stdout\n"
    "\n"
    "checks: openssl.fips-mode, openssl.fips-provider, openssl.module-integrity,\n"
    "  algorithms.approved, algorithms.non-approved, wolfssl.fips\n"
    "\n"
    "exit codes: 0 compliant, 1 not compliant, 2 could not check (or a usage error),\n"
    "  127 CMD could not be started; after -- CMD, CMD's own.\n"
    "\n"
    "examples:\n"
    "  fips-startup-check --text\n"
    "  fips-startup-check --require-provider fips -- /app/server --port 8443\n";

static const char *const STATUS_LABELS[] = {"PASS", "FAIL", "ERROR", "SKIP"};

/* One line per failed check or unmet requirement, for the preflight, in the pattern
 * `fipscheck preflight` uses too (cli.py): "PROGRAM: STATUS CHECK-ID: MESSAGE". */
static void print_failures(const struct report *r) {
    int n = 0;
    for (int i = 0; i < N_CHECKS; i++)
        if (r->checks[i].status == ST_FAIL || r->checks[i].status == ST_ERROR)
            n += fprintf(stderr, "fips-startup-check: %s %s: %s\n", STATUS_LABELS[r->checks[i].status],
                         r->checks[i].id, r->checks[i].message) > 0;
    for (int i = 0; i < r->n_requirements; i++)
        if (!r->requirements[i].met)
            n += fprintf(stderr, "fips-startup-check: FAIL required %s: %s\n", r->requirements[i].what,
                         r->requirements[i].message) > 0;
    if (!n)
        fprintf(stderr, "fips-startup-check: ERROR verdict: nothing could be verified (%s)\n",
                r->lib.present ? "no check passed" : r->lib.error);
}

static int preflight(struct report *r) {
    if (r->verdict != ST_PASS) {
        print_failures(r);
        if (!r->opt.warn_only) {
            fprintf(stderr, "fips-startup-check: not compliant: %s not started\n", r->opt.command[0]);
            return 1;
        }
        fprintf(stderr, "fips-startup-check: not compliant: starting %s anyway (--warn-only)\n",
                r->opt.command[0]);
    }
    fflush(NULL);
    execvp(r->opt.command[0], r->opt.command);
    fprintf(stderr, "fips-startup-check: cannot run %s: %s\n", r->opt.command[0], strerror(errno));
    return 127;
}

int main(int argc, char **argv) {
    static struct report report;
    struct out o = {0};
    char why[ERRLEN];
    const char *error = parse_options(argc, argv, &report.opt, why, sizeof why);
    if (error) {
        fprintf(stderr, "fips-startup-check: %s\n%s", error, USAGE);
        return 2;
    }
    if (report.opt.info == RUN_VERSION) {
        printf("fips-startup-check %s\n", FSC_VERSION);
        return 0;
    }
    if (report.opt.info == RUN_HELP) {
        printf("%s%s", USAGE, HELP);
        return 0;
    }
    make_report(&report);
    if (report.opt.command) return preflight(&report);
    if (report.opt.text) text_report(&o, &report);
    else { json_report(&o, &report); puts_(&o, "\n"); }
    if (o.failed) return 2;
    fputs(o.data, stdout);
    free(o.data);
    return exit_code(&report);
}
#endif
