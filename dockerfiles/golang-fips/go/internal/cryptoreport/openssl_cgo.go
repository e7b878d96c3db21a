//go:build cgo

package cryptoreport

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

// The libcrypto the Go backend loaded, asked through its own entry points (RTLD_NOLOAD: the
// handle of the copy already mapped, never a second load). Fields stay 0/NULL when absent.
typedef struct {
	int loaded;
	const char *version;
	int fips_properties, fips_provider;
	const char *sha256_provider;
} ossl_view;

static void ossl_ask(const char *path, ossl_view *v) {
	void *h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
	if (!h) return;
	v->loaded = 1;
	const char *(*version)(int) = (const char *(*)(int))dlsym(h, "OpenSSL_version");
	int (*is_fips)(void *) = (int (*)(void *))dlsym(h, "EVP_default_properties_is_fips_enabled");
	int (*available)(void *, const char *) = (int (*)(void *, const char *))dlsym(h, "OSSL_PROVIDER_available");
	void *(*fetch)(void *, const char *, const char *) =
		(void *(*)(void *, const char *, const char *))dlsym(h, "EVP_MD_fetch");
	const void *(*provider_of)(const void *) = (const void *(*)(const void *))dlsym(h, "EVP_MD_get0_provider");
	const char *(*name_of)(const void *) = (const char *(*)(const void *))dlsym(h, "OSSL_PROVIDER_get0_name");
	void (*md_free)(void *) = (void (*)(void *))dlsym(h, "EVP_MD_free");
	if (version) v->version = version(0);
	if (is_fips) v->fips_properties = is_fips(NULL);
	if (available) v->fips_provider = available(NULL, "fips");
	if (fetch && provider_of && name_of && md_free) {
		void *md = fetch(NULL, "SHA2-256", NULL);
		if (md) {
			v->sha256_provider = name_of(provider_of(md));
			md_free(md);
		}
	}
	dlclose(h);
}
*/
import "C"

import "unsafe"

func openSSLView(path string) *OpenSSL {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var v C.ossl_view
	C.ossl_ask(cpath, &v)
	if v.loaded == 0 {
		return nil
	}
	return &OpenSSL{Path: path, Version: C.GoString(v.version), FIPSProperties: v.fips_properties == 1,
		FIPSProvider: v.fips_provider == 1, SHA256Provider: C.GoString(v.sha256_provider)}
}
