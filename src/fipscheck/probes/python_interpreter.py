"""Facts about the Python interpreter this module runs in: what serves each hash algorithm,
which libcrypto its ``_ssl``/``_hashlib`` loaded, and what ``cryptography`` uses.

This one file serves twice: ``fipscheck.status()`` imports it to look at its own process,
and the ``python.*`` checks copy it into an image and run it with the image's interpreter,
which prints the facts as JSON. So it only gathers (the verdicts live in
``fipscheck.checks.python``), uses the standard library only, and keeps to Python 3.6 syntax.
It never changes OpenSSL's state: it only hashes and reads ``/proc/self/maps``.
"""

import hashlib
import json
import os
import sys

# Every name hashlib or OpenSSL may answer to; the checks decide which are approved.
ALGORITHMS = (
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256",
    "sha3_224", "sha3_256", "sha3_384", "sha3_512", "shake_128", "shake_256",
    "blake2b", "blake2s", "md4", "ripemd160", "sm3", "md5-sha1", "whirlpool",
)
CRYPTO_LIBRARIES = ("libcrypto", "libssl")


def _attempt(make):
    """Call a hash constructor: what served it, or what it raised."""
    try:
        digest = make()
    except Exception as error:  # any refusal is an answer; the checks judge it
        return {"served": False, "error": f"{type(error).__name__}: {error}"}
    kind = type(digest)
    return {"served": True, "module": kind.__module__, "type": kind.__name__}


def hash_algorithms():
    """For each algorithm: hashlib.new(name), the named constructor when hashlib has one (it
    has none when import found no implementation at all), and hashlib.new(name,
    usedforsecurity=False) where this Python knows the argument."""
    results = {}
    for name in ALGORITHMS:
        entry = {"new": _attempt(lambda n=name: hashlib.new(n))}
        constructor = getattr(hashlib, name, None) if name in hashlib.algorithms_guaranteed else None
        if constructor is not None:
            entry["constructor"] = _attempt(constructor)
            # _hashlib's openssl_<name>, or the builtin module's own function after a fallback
            entry["constructor_module"] = getattr(constructor, "__module__", None)
        if sys.version_info >= (3, 9):  # noqa: UP036 - images may run older Pythons
            entry["not_for_security"] = _attempt(
                lambda n=name: hashlib.new(n, usedforsecurity=False))
        results[name] = entry
    return results


def openssl_binding():
    """What _hashlib says about OpenSSL (None when this Python was built without it)."""
    try:
        import _hashlib
    except ImportError as error:
        return {"present": False, "error": str(error)}
    get_fips_mode = getattr(_hashlib, "get_fips_mode", None)
    return {"present": True, "file": getattr(_hashlib, "__file__", None),
            "fips_mode": get_fips_mode() if get_fips_mode else None,
            "openssl_md_meth_names": sorted(getattr(_hashlib, "openssl_md_meth_names", ()))}


def ssl_module():
    try:
        import ssl
    except ImportError as error:
        return {"present": False, "error": str(error)}
    facts = {"present": True, "file": getattr(sys.modules.get("_ssl"), "__file__", None),
             "openssl_version": ssl.OPENSSL_VERSION,
             "openssl_version_info": list(ssl.OPENSSL_VERSION_INFO)}
    fips_mode = getattr(ssl, "FIPS_mode", None)  # only on patched builds (the seed's)
    if fips_mode is not None:
        facts["FIPS_mode"] = fips_mode()
    try:  # an SSL_CTX fetches its algorithms through the providers (no CA files read: fast)
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        facts["client_context"] = "created"
    except Exception as error:
        facts["client_context"] = f"{type(error).__name__}: {error}"
    return facts


def mapped_crypto_files():
    """The libcrypto/libssl copies and OpenSSL provider modules mapped into this process, by
    the real path the kernel reports (what was loaded, not what a search path suggests)."""
    found = {}
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) < 6 or not fields[5].startswith("/"):
                continue
            path = fields[5].strip()
            base = os.path.basename(path)
            if base.startswith(CRYPTO_LIBRARIES) or "ossl-modules" in path or base == "fips.so":
                found.setdefault(path, {"path": path, "device": fields[3], "inode": fields[4]})
    return sorted(found.values(), key=lambda f: f["path"])


def cryptography_package():
    """pyca/cryptography when importable: its OpenSSL and whether that reports FIPS."""
    try:
        from cryptography.hazmat.backends.openssl import backend
        from cryptography.hazmat.bindings import _rust
    except ImportError as error:
        return {"present": False, "reason": str(error)}
    except Exception as error:  # a broken install is evidence too
        return {"present": True, "error": f"{type(error).__name__}: {error}"}
    import cryptography
    rust_file = getattr(_rust, "__file__", None)
    facts = {"present": True, "version": cryptography.__version__, "binding": rust_file,
             "openssl_version": backend.openssl_version_text(),
             "fips_enabled": _cryptography_fips(backend, _rust)}
    if rust_file:
        # A wheel links its own OpenSSL statically; a distro build needs the system's
        # libcrypto.so.N by name in its dynamic string table.
        with open(rust_file, "rb") as binding:
            facts["links_libcrypto_so"] = b"libcrypto.so" in binding.read()
    return facts


def _cryptography_fips(backend, rust):
    openssl = getattr(rust, "openssl", None)
    if openssl is not None and hasattr(openssl, "is_fips_enabled"):
        return bool(openssl.is_fips_enabled())
    return bool(getattr(backend, "_fips_enabled", False))


def gather():
    facts = {"python": {"executable": sys.executable, "version": sys.version.split()[0],
                        "implementation": sys.implementation.name},
             "openssl_binding": openssl_binding(), "ssl": ssl_module(),
             "hashes": hash_algorithms(), "cryptography": cryptography_package()}
    # read last: hashing above made OpenSSL load its configuration and providers
    facts["mapped"] = mapped_crypto_files()
    return facts


if __name__ == "__main__":
    json.dump(gather(), sys.stdout)
