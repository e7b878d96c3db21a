"""``go.fips-toolchain``: every Go program with crypto uses a FIPS crypto module: Go's own
(GOFIPS140 snapshot with fips140 mode on), BoringCrypto, or OpenSSL through a cgo backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model import Finding
from ..probes.gobuild import GoBinary, go_binaries
from ..probes.inventory import inventory
from ..probes.opensslconf import openssl_install
from . import Outcome, check, errored, failed, not_applicable, passed

if TYPE_CHECKING:
    from ..runner import ScanContext

FIPS140_ENABLED = ("on", "only", "auto")
OPENSSL_EXPERIMENTS = frozenset({"opensslcrypto", "systemcrypto", "strictfipsruntime"})
OPENSSL_BACKENDS = frozenset({"golang-fips", "microsoft-openssl"})  # gobuild.MARKERS keys


@dataclass(frozen=True)
class GoVerdict:
    kind: str  # go-fips140, boringcrypto, openssl, plain, no-crypto
    ok: bool | None  # None: the binary has no crypto, the check does not apply to it
    reason: str
    decided_by: dict[str, str]  # the build settings and variables the verdict rests on

    def evidence(self, binary: GoBinary) -> dict[str, Any]:
        return {"path": binary.path, "go_version": binary.info.go_version, "kind": self.kind,
                "reason": self.reason, "decided_by": self.decided_by}


def _godebug(text: str | None, key: str) -> str | None:
    """The last ``key=value`` of a GODEBUG string (later settings override earlier ones)."""
    found = None
    for item in (text or "").split(","):
        name, equals, value = item.strip().partition("=")
        if equals and name == key:
            found = value
    return found


def classify(binary: GoBinary, godebug_env: str | None, libcrypto: list[str]) -> GoVerdict:
    """Which crypto module a Go binary runs on. ``godebug_env`` is the image's GODEBUG (it
    overrides the binary's DefaultGODEBUG at run time); ``libcrypto`` the OpenSSL 3 copies
    an OpenSSL backend could dlopen."""
    settings = binary.info.settings
    decided = {k: settings[k] for k in ("GOFIPS140", "DefaultGODEBUG", "GOEXPERIMENT", "CGO_ENABLED",
                                        "-tags", "microsoft_systemcrypto") if k in settings}
    if "crypto" not in binary.markers:
        return GoVerdict("no-crypto", None, "no crypto/ functions in the binary", decided)
    experiments = binary.info.experiments
    backends = OPENSSL_BACKENDS & binary.markers
    if backends or experiments & OPENSSL_EXPERIMENTS or settings.get("microsoft_systemcrypto") == "1":
        decided["backend"] = ",".join(sorted(backends)) or "build settings"
        if settings.get("CGO_ENABLED") != "1" or binary.interpreter is None:
            return GoVerdict("openssl", False, "OpenSSL backend without cgo or dynamic linking: "
                             "it cannot dlopen libcrypto", decided)
        if not libcrypto:
            return GoVerdict("openssl", False, "OpenSSL backend, but no libcrypto.so.3 in the "
                             "system library directories for it to dlopen", decided)
        decided["libcrypto"] = ",".join(libcrypto)
        return GoVerdict("openssl", True, "OpenSSL backend (cgo, dlopen of the system libcrypto; "
                         "its FIPS configuration is openssl.config's matter)", decided)
    if "boringcrypto" in experiments:
        if "boringcrypto" not in binary.markers:
            return GoVerdict("boringcrypto", False, "GOEXPERIMENT=boringcrypto, but the BoringCrypto "
                             "module is not linked in (built without cgo?)", decided)
        return GoVerdict("boringcrypto", True, "BoringCrypto module linked in", decided)
    module = settings.get("GOFIPS140", "off")
    default_mode = _godebug(settings.get("DefaultGODEBUG"), "fips140")
    env_mode = _godebug(godebug_env, "fips140")
    mode = env_mode or default_mode or "off"
    if env_mode:
        decided["GODEBUG (image)"] = godebug_env or ""
    if module == "off":
        if mode in FIPS140_ENABLED:
            return GoVerdict("go-fips140", False, f"fips140={mode}, but without GOFIPS140 the "
                             "crypto is Go's in-tree code, not a frozen validated module", decided)
        return GoVerdict("plain", False, "plain Go crypto: no GOFIPS140, no BoringCrypto, no "
                         "OpenSSL backend", decided)
    if not module.startswith("v"):
        return GoVerdict("go-fips140", False, f"GOFIPS140={module} builds the in-tree module, "
                         "not a frozen validated snapshot", decided)
    if mode not in FIPS140_ENABLED:
        return GoVerdict("go-fips140", False, f"Go FIPS module {module} linked, but fips140={mode}",
                         decided)
    return GoVerdict("go-fips140", True, f"Go FIPS module {module} with fips140={mode}", decided)


@check("go.fips-toolchain", "Every Go binary with crypto uses a FIPS module (Go's GOFIPS140 "
       "module in FIPS mode, BoringCrypto, or OpenSSL)")
def go_fips_toolchain(ctx: ScanContext) -> Outcome:
    found = ctx.evidence(go_binaries)
    libcrypto = [lib.path for lib in ctx.evidence(openssl_install).libcryptos]
    godebug = ctx.target.config.env.get("GODEBUG")
    verdicts = [(b, classify(b, godebug, libcrypto)) for b in found.binaries]
    evidence = [v.evidence(b) for b, v in verdicts]
    bad = [b.path for b, v in verdicts if v.ok is False]
    good = [b.path for b, v in verdicts if v.ok]
    files = ctx.evidence(inventory)
    unreadable = {**found.malformed, **files.malformed,
                  **{u: "unreadable" for u in files.unreadable}}
    if bad:
        return failed(f"{len(bad)} of {len(found.binaries)} Go binaries use non-FIPS crypto: "
                      + ", ".join(bad), binaries=evidence, unreadable=unreadable,
                      findings=[Finding(v.reason, b.path) for b, v in verdicts if v.ok is False])
    if unreadable:
        return errored(f"{len(unreadable)} files could not be read as ELF or Go build info, so "
                       "they may be Go binaries not examined", binaries=evidence, unreadable=unreadable)
    if not good:
        return not_applicable(f"none of the {len(found.binaries)} Go binaries uses crypto" if found.binaries
                              else "no Go binary in the target",
                              binaries=evidence)
    return passed(f"{len(good)} Go binaries with crypto, each on a FIPS module", binaries=evidence)
