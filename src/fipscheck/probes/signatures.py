"""What crypto an ELF object carries inside itself, recognised by what it contains rather
than by its name: version banners in read-only data and the symbols it defines.

A banner alone does not mean bundled crypto: ``openssl`` prints the version it was compiled
against, so it carries OpenSSL's banner while linking the system libcrypto. Crypto is carried
when the object defines the library's functions, or carries its banner without needing any
libcrypto to be loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..elf import ElfFile

# One pattern per banner, each with the literal it starts with: the pattern is only tried
# where a literal search finds that (one alternation would try every byte: profiled on a
# trixie root, 1.0 s for the alternation, 0.26 s for three patterns, less again for three
# literal searches). BoringSSL's banner is the bare word, which other libraries mention too
# (curl lists its TLS backends): its symbols decide. Every pattern here matches a bounded
# number of bytes (ElfFile.search runs them in overlapping steps; tests/test_elf.py checks).
VERSION_BANNERS = (
    (b"OpenSSL ", re.compile(
        rb"OpenSSL \d{1,9}\.\d{1,9}\.\d{1,9}[a-z]?(?:-[\w.]{1,64})? {1,2}\d{1,2} [A-Z][a-z]{2} \d{4}")),
    (b"AWS-LC", re.compile(rb"AWS-LC(?: FIPS)? \d{1,9}\.\d{1,9}\.\d{1,9}")),
    (b"LibreSSL ", re.compile(rb"LibreSSL \d{1,9}\.\d{1,9}\.\d{1,9}")),
)
# The credit line of OpenSSL's assembly primitives (shared by BoringSSL, AWS-LC and ring):
# present even in a stripped static binary that never prints a version.
CRYPTOGAMS = "CRYPTOGAMS by <appro@openssl.org>"
CRYPTOGAMS_LINE = re.compile(re.escape(CRYPTOGAMS.encode()))
# What every object carrying OpenSSL, BoringSSL, AWS-LC or LibreSSL has in .rodata, even
# stripped and without a version banner: "SSL" (in the banners, OPENSSL_CONF,
# OPENSSL_ia32cap, "SSL routines"). One literal pass over .rodata (in the bench root 61 of
# 1426 objects have it) decides whether the regex and the .text search run at all.
MENTIONS = (b"SSL",)
# One pattern per directory, each tried where its name occurs (matches of different names
# cannot overlap: a quoted value holds no quote).
COMPILED_DIRS = tuple((name, re.compile(re.escape(name) + rb': "[^"\0]{1,4096}"'))
                      for name in (b"OPENSSLDIR", b"MODULESDIR", b"ENGINESDIR"))
PROVIDER_VERSION = re.compile(rb"(?<=\0)\d{1,9}\.\d{1,9}\.\d{1,9}(?=\0)")
LIBCRYPTO_NAME = re.compile(r"^libcrypto(-[0-9a-f]{8})?\.so(\.[\d.]+)?$")

# Symbol prefixes and names that only a crypto library defines. ``ring`` and ``aws-lc-rs``
# prefix their C symbols with the crate version; aws-lc-rs in FIPS mode uses ``aws_lc_fips_``.
SYMBOL_FAMILIES = (
    (re.compile(r"^ring_core_\d+_\d+_\d+_"), "ring", "Rust ring carries its own non-FIPS crypto"),
    (re.compile(r"^aws_lc_(?!fips_)\d+_\d+_\d+_"), "aws-lc-rs",
     "aws-lc-rs built without its FIPS module"),
    (re.compile(r"^BORINGSSL_self_test$"), "boringssl", "BoringSSL carries its own crypto"),
    (re.compile(r"^(EVP_DigestInit_ex|OPENSSL_init_crypto|SHA256_Init)$"), "openssl",
     "defines OpenSSL's crypto functions itself"),
)

# The names SYMBOL_FAMILIES match, as they appear in a string table (after the NUL that ends
# the previous name; whole names end with one): an object whose string tables hold none of
# these defines none of those symbols, and its symbol tables are never decoded.
SYMBOL_STARTS = (b"ring_core_", b"aws_lc_", b"BORINGSSL_self_test", b"EVP_DigestInit_ex",
                 b"OPENSSL_init_crypto", b"SHA256_Init")  # what a matching name starts with
SYMBOL_MARKS = (b"\0ring_core_", b"\0aws_lc_", b"\0BORINGSSL_self_test\0", b"\0EVP_DigestInit_ex\0",
                b"\0OPENSSL_init_crypto\0", b"\0SHA256_Init\0")


# Rust crates that implement crypto, by crate name: the implementation they are. Stripped
# Rust binaries keep the source paths of their panic locations in .rodata
# (``/usr/share/cargo/registry/ring-0.17.14/src/...``, ``.../index.crates.io-*/sha2-0.10.8/src/...``),
# which name each crate and its version even where no symbol is left.
RUSTCRYPTO, DALEK = "rustcrypto", "dalek"
RUST_CRATES = {
    "ring": "ring", "aws-lc-rs": "aws-lc-rs", "aws-lc-sys": "aws-lc-rs",
    "boring-sys": "boringssl", "openssl-src": "openssl",
    **dict.fromkeys((
        "md-5", "md4", "md2", "sha1", "sha2", "sha3", "blake2", "ripemd", "whirlpool", "sm3",
        "streebog", "tiger", "groestl", "k12", "aes", "des", "blowfish", "cast5", "camellia",
        "idea", "rc2", "rc5", "serpent", "twofish", "sm4", "chacha20", "salsa20", "rc4",
        "aes-gcm", "aes-gcm-siv", "aes-siv", "ccm", "eax", "ocb3", "chacha20poly1305",
        "xsalsa20poly1305", "ascon-aead", "hmac", "cmac", "pmac", "poly1305", "polyval", "ghash",
        "hkdf", "pbkdf2", "scrypt", "argon2", "bcrypt-pbkdf", "ecdsa", "ed25519", "dsa", "rsa",
        "p256", "p384", "p521", "k256", "p224", "sm2", "crypto-bigint"), RUSTCRYPTO),
    **dict.fromkeys(("curve25519-dalek", "ed25519-dalek", "x25519-dalek"), DALEK),
}
CRATE_PATH = re.compile(rb"/([a-z0-9_-]{2,40})-(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]{1,40})?)/src/")
# What rustc leaves in every Rust program and library it links (gdb's pretty-printer loader).
RUST_SECTION = ".debug_gdb_scripts"


# Why each implementation named only by its Rust crates is outside any FIPS module.
CRATE_REASONS = {
    RUSTCRYPTO: "RustCrypto crates implement their crypto in Rust, outside any FIPS module",
    DALEK: "dalek-cryptography crates implement Curve25519 in Rust, outside any FIPS module",
}

# Shared libraries that are crypto libraries of their own unless built on libcrypto:
# (SONAME or file name, family, reason). Debian's libk5crypto uses its built-in crypto.
OWN_CRYPTO_UNLESS_LIBCRYPTO = (
    (re.compile(r"^libk5crypto\.so(\.\d+)*$"), "mit-krb5 libk5crypto",
     "MIT Kerberos's libk5crypto built with its built-in crypto (it loads no libcrypto)"),
)


@dataclass(frozen=True)
class CryptoSignature:
    family: str  # openssl, boringssl, aws-lc, libressl, ring, aws-lc-rs, rustcrypto, ...
    why: str
    banners: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    crates: tuple[str, ...] = ()  # "name version" of each Rust crypto crate linked in


def banners(elf: ElfFile, assembly: bool = True) -> list[str]:
    """Version banners from .rodata; with ``assembly``, also the CRYPTOGAMS credit line that
    assembly keeps in .text, next to its code (.text is the largest section: it is searched
    for that literal only)."""
    if not elf.contains(MENTIONS, (".rodata",)):
        return []  # nothing names an SSL library: no banner, and no reason to read .text
    found = [b for prefix, pattern in VERSION_BANNERS
             for b in elf.search(pattern, (".rodata",), starts_with=prefix)]
    if assembly:
        found += elf.search(CRYPTOGAMS_LINE, (".text",), starts_with=CRYPTOGAMS.encode())
    return [b.decode("ascii", "replace") for b in sorted(set(found))]


def _banner_family(banner: str) -> str:
    for prefix, family in (("AWS-LC", "aws-lc"), ("LibreSSL", "libressl"),
                           (CRYPTOGAMS, "openssl-derived")):
        if banner.startswith(prefix):
            return family
    return "openssl"


def rust_crates(elf: ElfFile) -> dict[str, list[str]]:
    """Implementation -> ``["crate version", ...]`` for the crypto crates a Rust object was
    built from; empty for objects rustc did not link (only those are searched)."""
    if not elf.has_section(RUST_SECTION):
        return {}
    found: dict[str, list[str]] = {}
    for path in elf.search(CRATE_PATH, hints=(b"/src/",)):
        match = CRATE_PATH.fullmatch(path)
        assert match is not None  # path is one of CRATE_PATH's own matches
        name, version = (g.decode("ascii", "replace") for g in match.groups())
        if name in RUST_CRATES:
            found.setdefault(RUST_CRATES[name], []).append(f"{name} {version}")
    return {family: sorted(set(crates)) for family, crates in found.items()}


def carried_crypto(elf: ElfFile, needs_libcrypto: bool) -> CryptoSignature | None:
    """The crypto this object carries itself, or None. ``needs_libcrypto``: it has a
    DT_NEEDED libcrypto (then a banner is only the version it was compiled against)."""
    symbols: dict[str, list[str]] = {}
    # Decoding every symbol costs far more than searching the string tables once; most
    # objects name none of these, and then their symbol tables are never decoded.
    marked = elf.contains(SYMBOL_MARKS, (".dynstr", ".strtab"))
    for name in elf.symbol_names(defined_only=True, starting_with=SYMBOL_STARTS) if marked else ():
        family = next((f for pattern, f, _ in SYMBOL_FAMILIES if pattern.match(name)), None)
        if family:
            symbols.setdefault(family, []).append(name)
    # An object that loads a libcrypto is not searched for assembly of its own: it uses
    # that libcrypto (whose own copies are judged as copies), and .text is most of the bytes.
    found = banners(elf, assembly=not needs_libcrypto)
    crates = rust_crates(elf)
    if not (symbols or found or crates):
        return None  # most objects: nothing more to decide
    found = sorted(found, key=lambda b: b == CRYPTOGAMS)  # versions first
    reasons = {**CRATE_REASONS, **{family: why for _, family, why in SYMBOL_FAMILIES}}
    listed = tuple(c for family in sorted(crates) for c in crates[family])
    # A named library (ring, BoringSSL...) says more than OpenSSL-compatible functions, and a
    # crate names what the CRYPTOGAMS credit alone would call OpenSSL-derived.
    named = next((f for f in symbols if f != "openssl"), None) or next(
        (f for f in ("ring", "aws-lc-rs", "boringssl", "openssl", RUSTCRYPTO, DALEK) if f in crates), None)
    if symbols:
        versions = [b for b in found if b != CRYPTOGAMS]
        family = named or (_banner_family(versions[0]) if versions else "openssl")
        names = symbols.get(family) or symbols.get("openssl") or ()
        return CryptoSignature(family, reasons.get(family, reasons["openssl"]), tuple(found),
                               tuple(sorted(set(names))[:5]), listed)
    if named:
        return CryptoSignature(named, reasons.get(named, reasons["openssl"]), tuple(found), (), listed)
    if CRYPTOGAMS in found:
        return CryptoSignature(_banner_family(found[0]), "carries OpenSSL-derived assembly "
                               "crypto primitives (CRYPTOGAMS)", tuple(found))
    if found and not needs_libcrypto:
        return CryptoSignature(_banner_family(found[0]), "carries a crypto library's version "
                               "banner and loads no libcrypto", tuple(found))
    return None


def compiled_dirs(elf: ElfFile) -> dict[str, str]:
    """The directories compiled into an OpenSSL 3 libcrypto (what ``openssl version -d -e
    -m`` prints), as ``{"OPENSSLDIR": ..., "ENGINESDIR": ..., "MODULESDIR": ...}``."""
    found = sorted({m for name, pattern in COMPILED_DIRS
                    for m in elf.search(pattern, starts_with=name)})
    return dict(m.decode("utf-8", "surrogateescape").rstrip('"').split(': "', 1) for m in found)


def provider_version(elf: ElfFile) -> str | None:
    """The version an OpenSSL 3 provider module reports: its only bare x.y.z string."""
    found = elf.search(PROVIDER_VERSION)
    return found[0].decode() if len(found) == 1 else None


def openssl_version(banner: str) -> str | None:
    match = re.match(r"OpenSSL (\d+\.\d+\.\d+[a-z]?)", banner)
    return match.group(1) if match else None
