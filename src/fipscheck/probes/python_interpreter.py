"""Facts about the Python interpreter this module runs in: what serves each hash algorithm,
which libcrypto its ``_ssl``/``_hashlib`` loaded, and what ``cryptography`` uses.

This one file serves twice: ``fipscheck.status()`` imports it to look at its own process,
and the ``python.*`` checks copy it into an image and run it with the image's interpreter,
which prints the facts as JSON. So it only gathers (the verdicts live in
``fipscheck.checks.python``), uses the standard library only, and keeps to Python 3.6 syntax.
It never changes OpenSSL's state: it hashes and reads files (``/proc/self/maps``, the
``cryptography`` extension), and imports ``cryptography`` only when told it may.
"""

import glob
import hashlib
import importlib.util
import json
import os
import re
import sys

# Types are given in comments, which any Python 3.6 ignores, and imported for type checkers
# only (a type checker takes TYPE_CHECKING as true): this module imports nothing more at run
# time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable  # noqa: F401 - used in type comments
    from typing import Any  # noqa: F401 - used in type comments

# Every name hashlib or OpenSSL may answer to; the checks decide which are approved.
ALGORITHMS = (
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256",
    "sha3_224", "sha3_256", "sha3_384", "sha3_512", "shake_128", "shake_256",
    "blake2b", "blake2s", "md4", "ripemd160", "sm3", "md5-sha1", "whirlpool",
)
CRYPTO_LIBRARIES = ("libcrypto", "libssl")


def _attempt(make):  # type: (Callable[..., object]) -> dict[str, object]
    """Call a hash constructor: what served it, or what it raised."""
    try:
        digest = make()
    except Exception as error:  # any refusal is an answer; the checks judge it
        return {"served": False, "error": f"{type(error).__name__}: {error}"}
    kind = type(digest)
    return {"served": True, "module": kind.__module__, "type": kind.__name__}


def hash_algorithms():  # type: () -> dict[str, dict[str, dict[str, object]]]
    """For each algorithm: hashlib.new(name), the named constructor when hashlib has one (it
    has none when import found no implementation at all), and hashlib.new(name,
    usedforsecurity=False) where this Python knows the argument."""
    results = {}
    for name in ALGORITHMS:
        entry = {"new": _attempt(lambda n=name: hashlib.new(n))}
        constructor = getattr(hashlib, name, None) if name in hashlib.algorithms_guaranteed else None
        if constructor is not None:  # _hashlib's openssl_<name>, or a builtin after a fallback
            entry["constructor"] = _attempt(constructor)
        if sys.version_info >= (3, 9):  # noqa: UP036 - images may run older Pythons
            entry["not_for_security"] = _attempt(
                lambda n=name: hashlib.new(n, usedforsecurity=False))
        results[name] = entry
    return results


def openssl_binding():  # type: () -> dict[str, object]
    """What _hashlib says about OpenSSL (fips_mode None before Python 3.9, which lacks
    get_fips_mode)."""
    try:
        import _hashlib
    except ImportError as error:
        return {"present": False, "error": str(error)}
    get_fips_mode = getattr(_hashlib, "get_fips_mode", None)
    return {"present": True, "file": getattr(_hashlib, "__file__", None),
            "fips_mode": get_fips_mode() if get_fips_mode else None,
            "openssl_md_meth_names": sorted(getattr(_hashlib, "openssl_md_meth_names", ()))}


def ssl_module():  # type: () -> dict[str, object]
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


def mapped_crypto_files():  # type: () -> list[dict[str, str]]
    """The libcrypto/libssl copies and OpenSSL provider modules mapped into this process, by
    the real path the kernel reports (what was loaded, not what a search path suggests)."""
    found = {}  # type: dict[str, dict[str, str]]
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


def cryptography_package(may_import):  # type: (bool) -> dict[str, object]
    """pyca/cryptography when installed: which OpenSSL its _rust extension carries or links,
    read from the file; its backend's own view only when importing it is harmless (a probe
    process of its own) or already done: a build on the system libcrypto loads OpenSSL's
    legacy provider into it at import when not in FIPS mode."""
    try:
        spec = importlib.util.find_spec("cryptography")
    except (ImportError, ValueError) as error:
        return {"present": False, "reason": str(error)}
    if spec is None or not spec.origin:
        return {"present": False}
    bindings = os.path.join(os.path.dirname(spec.origin), "hazmat", "bindings")
    extensions = sorted(glob.glob(os.path.join(bindings, "_rust*.so")))
    facts = {"present": True, "version": _distribution_version("cryptography"),
             "binding": extensions[0] if extensions else None}  # type: dict[str, object]
    if extensions:
        with open(extensions[0], "rb") as binding:
            data = binding.read()
        # A wheel links its own OpenSSL statically (its banner is in the file); a distro
        # build names the system's libcrypto.so.N in its dynamic string table instead.
        facts["links_libcrypto_so"] = b"libcrypto.so" in data
        banner = re.search(rb"OpenSSL \d+\.\d+\.\d+[a-z]?", data)
        facts["openssl_banner"] = banner.group().decode() if banner else None
    if may_import or "cryptography.hazmat.bindings._rust" in sys.modules:
        facts.update(_cryptography_backend())
    return facts


def _distribution_version(name):  # type: (str) -> str | None
    try:
        from importlib import metadata
        return metadata.version(name)
    except Exception:  # no metadata (Python < 3.8, or a copied tree): the file facts remain
        return None


def _cryptography_backend():  # type: () -> dict[str, object]
    try:
        # cryptography is not a dependency of fipscheck (and may be absent where it is type
        # checked): imported only when the interpreter has it
        from cryptography.hazmat.backends.openssl import backend  # type: ignore[import-not-found, unused-ignore]
        from cryptography.hazmat.bindings import _rust  # type: ignore[import-not-found, unused-ignore]
    except Exception as error:  # a broken install is evidence too
        return {"error": f"{type(error).__name__}: {error}"}
    openssl = getattr(_rust, "openssl", None)
    if openssl is not None and hasattr(openssl, "is_fips_enabled"):
        fips = bool(openssl.is_fips_enabled())
    else:
        fips = bool(getattr(backend, "_fips_enabled", False))
    return {"openssl_version": backend.openssl_version_text(), "fips_enabled": fips}


def gather(may_import=True):  # type: (bool) -> dict[str, Any]
    facts = {"python": {"executable": sys.executable, "version": sys.version.split()[0],
                        "implementation": sys.implementation.name},
             "openssl_binding": openssl_binding(), "ssl": ssl_module(),
             "hashes": hash_algorithms(), "cryptography": cryptography_package(may_import)}
    # read last: hashing above made OpenSSL load its configuration and providers
    facts["mapped"] = mapped_crypto_files()
    return facts


if __name__ == "__main__":
    json.dump(gather(), sys.stdout)
