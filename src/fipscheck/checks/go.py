"""``go.fips-toolchain``: every Go program with crypto uses a FIPS crypto module: Go's own
(GOFIPS140 snapshot with fips140 mode on), BoringCrypto, or OpenSSL's FIPS provider through a
cgo backend (golang-fips/go, Microsoft's Go).

golang-fips/go's backend is switched on at run time, not at build time: it loads OpenSSL only
when GOLANG_FIPS=1 is in the environment or, without GOLANG_FIPS, when the kernel's
fips_enabled is 1; otherwise the program runs Go's own crypto. With it on, the program dlopens
libcrypto, forces FIPS mode (loading the ``fips`` provider and ``fips=yes`` if the
configuration did not) and aborts at start when it cannot. So such a program is FIPS in the
target as configured only when the target's environment sets GOLANG_FIPS=1 (or the target has
a kernel of its own in FIPS mode) and the libcrypto it dlopens has its FIPS provider beside
it. A container's kernel is its host's: an image is not credited with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model import Finding
from ..probes.gobackend import DlopenedLibcrypto, dlopened_libcrypto
from ..probes.gobuild import GoBinary, go_binaries
from ..probes.inventory import inventory
from ..probes.kernel import read_kernel_fips
from . import Outcome, check, errored, failed, not_applicable, passed

if TYPE_CHECKING:
    from ..runner import ScanContext

FIPS140_ENABLED = ("on", "only", "auto")
MICROSOFT_EXPERIMENTS = frozenset({"opensslcrypto", "systemcrypto"})
STRICT_FIPS_RUNTIME = "strictfipsruntime"  # golang-fips: abort on a FIPS kernel without the backend


@dataclass(frozen=True)
class GoRuntime:
    """What a Go program meets at run time in the target, as far as its crypto depends on it."""

    godebug: str | None = None  # GODEBUG: overrides the binary's DefaultGODEBUG
    golang_fips: str | None = None  # GOLANG_FIPS: golang-fips's switch
    kernel_fips: str | None = None  # fips_enabled of the target's own kernel ("absent" without
    #                                 the file); None for a container, whose kernel is its host's


@dataclass(frozen=True)
class GoVerdict:
    kind: str  # go-fips140, boringcrypto, openssl, plain, no-crypto
    ok: bool | None  # None: the binary has no crypto, the check does not apply to it
    reason: str
    decided_by: dict[str, Any]  # the build settings, variables and files the verdict rests on

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


def openssl_backend(binary: GoBinary) -> str | None:
    """Which cgo OpenSSL backend the binary carries, by its function names or build settings."""
    if "golang-fips" in binary.markers:
        return "golang-fips"
    if "microsoft-openssl" in binary.markers:
        return "microsoft-openssl"
    if (binary.info.experiments & MICROSOFT_EXPERIMENTS
            or binary.info.settings.get("microsoft_systemcrypto") == "1"):
        return "build settings"
    return None


def classify(binary: GoBinary, runtime: GoRuntime, libcrypto: DlopenedLibcrypto | None = None) -> GoVerdict:
    """Which crypto module a Go binary runs on in the target. ``libcrypto`` is what its OpenSSL
    backend would dlopen there (probes.gobackend), if it has one."""
    settings = binary.info.settings
    decided: dict[str, Any] = {k: settings[k] for k in (
        "GOFIPS140", "DefaultGODEBUG", "GOEXPERIMENT", "CGO_ENABLED", "-tags", "microsoft_systemcrypto")
        if k in settings}
    if "crypto" not in binary.markers:
        return GoVerdict("no-crypto", None, "no crypto/ functions in the binary", decided)
    experiments = binary.info.experiments
    backend = openssl_backend(binary)
    if backend:
        decided["backend"] = backend
    if backend == "golang-fips":
        return _golang_fips(binary, runtime, libcrypto, decided)
    if backend:
        return _openssl_backend(binary, libcrypto, decided, "Microsoft Go's OpenSSL backend",
                                "its FIPS configuration is openssl.config's matter")
    if STRICT_FIPS_RUNTIME in experiments:
        return GoVerdict("plain", False, "GOEXPERIMENT=strictfipsruntime, but without golang-fips's "
                         "OpenSSL backend (CGO_ENABLED=0 or -tags no_openssl): Go's own crypto, which "
                         "the strict check only refuses on a kernel in FIPS mode", decided)
    if "boringcrypto" in experiments:
        if "boringcrypto" not in binary.markers:
            return GoVerdict("boringcrypto", False, "GOEXPERIMENT=boringcrypto, but the BoringCrypto "
                             "module is not linked in (built without cgo?)", decided)
        return GoVerdict("boringcrypto", True, "BoringCrypto module linked in", decided)
    return _go_native(settings, runtime, decided)


def _golang_fips(binary: GoBinary, runtime: GoRuntime, libcrypto: DlopenedLibcrypto | None,
                 decided: dict[str, Any]) -> GoVerdict:
    """golang-fips/go: OpenSSL only when switched on at run time, then FIPS mode or an abort."""
    decided["GOLANG_FIPS (environment)"] = runtime.golang_fips
    if runtime.golang_fips is not None:
        if runtime.golang_fips != "1":
            return GoVerdict("openssl", False, f"golang-fips OpenSSL backend switched off by "
                             f"GOLANG_FIPS={runtime.golang_fips}: the crypto is Go's own", decided)
        switch = "GOLANG_FIPS=1"
    else:
        decided["fips_enabled (kernel)"] = runtime.kernel_fips or "not the target's own kernel"
        if runtime.kernel_fips != "1":
            where = ("the target sets no GOLANG_FIPS, so wherever the kernel is not booted with fips=1 "
                     "(a container's kernel is its host's)" if runtime.kernel_fips is None else
                     f"GOLANG_FIPS is not set and the kernel is not in FIPS mode (fips_enabled: "
                     f"{runtime.kernel_fips}), so")
            return GoVerdict("openssl", False, "golang-fips OpenSSL backend, used only under "
                             f"GOLANG_FIPS=1 or a kernel in FIPS mode: {where} the crypto is Go's own",
                             decided)
        switch = "the kernel's fips_enabled=1"
    return _openssl_backend(binary, libcrypto, decided, f"golang-fips OpenSSL backend switched on by "
                            f"{switch}", "it forces FIPS mode or aborts; the provider's configuration "
                            "is openssl.config's matter")


def _openssl_backend(binary: GoBinary, libcrypto: DlopenedLibcrypto | None, decided: dict[str, Any],
                     what: str, rest: str) -> GoVerdict:
    if binary.info.settings.get("CGO_ENABLED") != "1" or binary.interpreter is None:
        return GoVerdict("openssl", False, f"{what}, but without cgo or dynamic linking: it cannot "
                         "dlopen libcrypto", decided)
    if libcrypto is None:
        return GoVerdict("openssl", False, f"{what}, but no libcrypto.so.3 (nor an older soname) "
                         "resolves for it to dlopen: it cannot start its crypto", decided)
    decided["libcrypto"] = libcrypto.to_dict()
    found = f"{libcrypto.copy.path} (dlopen {libcrypto.soname}, found by {libcrypto.found_by})"
    if not libcrypto.copy.is_fips:
        return GoVerdict("openssl", False, f"{what}, but it dlopens {found}, beside which there is "
                         "no FIPS provider of its own version", decided)
    return GoVerdict("openssl", True, f"{what}: it dlopens {found}, whose FIPS provider is "
                     f"{libcrypto.copy.fips_module}; {rest}", decided)


def _go_native(settings: dict[str, str], runtime: GoRuntime, decided: dict[str, Any]) -> GoVerdict:
    """Go's own crypto: FIPS only as a frozen GOFIPS140 snapshot with fips140 mode on."""
    module = settings.get("GOFIPS140", "off")
    default_mode = _godebug(settings.get("DefaultGODEBUG"), "fips140")
    env_mode = _godebug(runtime.godebug, "fips140")
    mode = env_mode or default_mode or "off"
    if env_mode:
        decided["GODEBUG (image)"] = runtime.godebug or ""
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


def go_runtime(ctx: ScanContext, binaries: list[GoBinary]) -> GoRuntime:
    """The target's side of the verdicts: its environment and, where it has a kernel of its own
    and a golang-fips program would depend on it, the kernel's FIPS switch."""
    env = ctx.target.config.env
    kernel = None
    if ctx.target.own_kernel and "GOLANG_FIPS" not in env and any(
            "golang-fips" in b.markers for b in binaries):
        kernel = ctx.evidence(read_kernel_fips).value or "absent"
    return GoRuntime(env.get("GODEBUG"), env.get("GOLANG_FIPS"), kernel)


def go_verdicts(ctx: ScanContext) -> list[tuple[GoBinary, GoVerdict]]:
    """Every Go binary of the target with the crypto module it runs on there."""
    found = ctx.evidence(go_binaries)
    runtime = go_runtime(ctx, found.binaries)
    return [(b, classify(b, runtime, dlopened_libcrypto(ctx, b.path) if openssl_backend(b) else None))
            for b in found.binaries]


@check("go.fips-toolchain", "Every Go binary with crypto uses a FIPS module (Go's GOFIPS140 "
       "module in FIPS mode, BoringCrypto, or OpenSSL)")
def go_fips_toolchain(ctx: ScanContext) -> Outcome:
    found = ctx.evidence(go_binaries)
    verdicts = go_verdicts(ctx)
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
