"""``openssl.config``: the configuration OpenSSL loads turns FIPS on, and the FIPS module it
points at is the one ``fipsinstall`` measured. Read statically: nothing from the image runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import EvidenceError, describe
from ..model import Finding
from ..nconf import ConfigError, OpenSSLConfig, Value, read_config
from ..probes.opensslconf import LibCrypto, install_mac, module_mac, openssl_install
from . import Outcome, check, errored, failed, not_applicable, passed

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

FALSE_WORDS = ("0", "no", "false", "off", "n")  # what `activate` refuses since OpenSSL 3.2


def _fips_requested(properties: str) -> bool:
    """``fips=yes`` (or bare ``fips``) as a mandatory clause; ``?fips=yes`` only prefers it."""
    clauses = {c.replace(" ", "").lower() for c in properties.split(",")}
    return bool(clauses & {"fips=yes", "fips"})


def evaluate_config(fs: RootFilesystem, lib: LibCrypto, env: dict[str, str], config_file: str | None = None,
                    init_key: str = "openssl_conf",
                    from_kernel: str | None = None) -> tuple[list[str], dict[str, Any]]:
    """Reasons the configuration does not enforce FIPS (empty when it does), and the evidence.
    ``config_file``: a file the program is told to load instead (Node's ``--openssl-config``);
    ``init_key``: the name whose section initialises OpenSSL (Node reads ``nodejs_conf``);
    ``from_kernel`` names who decided that FIPS mode comes from the kernel (a preset), if so."""
    path = config_file or env.get("OPENSSL_CONF") or f"{lib.openssldir.rstrip('/')}/openssl.cnf"
    evidence: dict[str, Any] = {"libcrypto": lib.path, "openssldir": lib.openssldir,
                                "openssldir_from": lib.openssldir_from, "modulesdir": lib.modulesdir,
                                "config": path, "config_from": "command line" if config_file else
                                "OPENSSL_CONF" if env.get("OPENSSL_CONF") else "OPENSSLDIR",
                                "init_key": init_key}
    unusable = _unusable_config(fs, path)
    if unusable:
        return [unusable], evidence
    try:
        config = read_config(fs, path, env)
    except ConfigError as error:
        return [f"OpenSSL cannot load the configuration: {error}"], evidence
    evidence.update(files=config.files, missing_includes=config.missing_includes)
    if config.notes:
        evidence["notes"] = config.notes
    init = config.get("default", init_key)
    if init is None or init.text not in config.sections:
        return [f"no `{init_key}` initialisation section in {path}"], evidence
    reasons = _providers(fs, lib, env, config, config.sections[init.text], evidence)
    alg = config.sections[init.text].get("alg_section")
    properties = config.get(alg.text, "default_properties") if alg else None
    fips_mode = config.get(alg.text, "fips_mode") if alg else None
    evidence["default_properties"] = properties.text if properties else None
    if not ((properties and _fips_requested(properties.text))
            or (fips_mode and fips_mode.text.lower() not in FALSE_WORDS)):
        if from_kernel:
            evidence["fips_properties"] = (f"not in the configuration; FIPS mode comes from the "
                                           f"kernel's fips_enabled ({from_kernel})")
            return reasons, evidence
        reasons.append("default_properties does not contain fips=yes: fetches without a property "
                       "query may be served by non-FIPS providers")
    return reasons, evidence


def _unusable_config(fs: RootFilesystem, path: str) -> str | None:
    """Why OpenSSL loads no configuration from ``path`` (checked with the real NCONF_load):
    nothing there, a path that cannot be opened (a symlink loop), a directory (it reads as
    empty).
    A FIFO, socket or device is left to the reader, which refuses it with the reason."""
    try:
        kind = fs.kind(path)
    except EvidenceError as error:  # a symlink loop, a name too long: fopen fails as stat does
        return f"{path} cannot be opened ({error}): OpenSSL runs on built-in defaults, without FIPS"
    if kind is None:
        return f"{path} does not exist: OpenSSL runs on built-in defaults, without FIPS"
    if kind == "directory":
        return (f"{path} is a directory: OpenSSL reads it as an empty configuration and runs on "
                "built-in defaults, without FIPS")
    return None


def _truthy(value: Value | None) -> bool:
    return value is not None and value.text.strip().lower() not in FALSE_WORDS


def _is_fips(config: OpenSSLConfig, name: str, section: str) -> bool:
    identity = config.get(section, "identity")
    return (name == "fips" or (identity is not None and identity.text == "fips")
            or _module(config, section, name).rsplit("/", 1)[-1] == "fips.so")


def _providers(fs: RootFilesystem, lib: LibCrypto, env: dict[str, str], config: OpenSSLConfig,
               init: dict[str, Value], evidence: dict[str, Any]) -> list[str]:
    listed = init.get("providers")
    entries = config.sections.get(listed.text, {}) if listed else {}
    providers = {name: sect.text for name, sect in entries.items()}  # provider -> its section
    evidence["providers_activated"] = [n for n, sect in providers.items()
                                       if _truthy(config.get(sect, "activate"))]
    fips_name = next((n for n, sect in providers.items() if _is_fips(config, n, sect)), None)
    if fips_name is None:
        return ["no FIPS provider is configured in the providers section"]
    reasons = [] if fips_name in evidence["providers_activated"] else [
        f"the FIPS provider section {fips_name!r} is not activated"]
    fips_section = providers[fips_name]
    module = _module(config, fips_section, fips_name)
    if not module.startswith("/"):
        modules_dir = env.get("OPENSSL_MODULES") or lib.modulesdir
        if modules_dir is None:
            return [*reasons, f"cannot tell where {module} is: libcrypto names no MODULESDIR"]
        module = f"{modules_dir.rstrip('/')}/{module}"
    return reasons + _module_integrity(fs, config, fips_section, module, evidence)


def _module_integrity(fs: RootFilesystem, config: OpenSSLConfig, section: str, module: str,
                      evidence: dict[str, Any]) -> list[str]:
    """What `openssl fipsinstall -verify` checks: module-mac (and install-mac, when an
    install-status is recorded) against MACs computed here with the default key."""
    recorded = config.get(section, "module-mac")
    evidence.update(fips_section=section, module=module,
                    module_mac_recorded=recorded.text if recorded else None,
                    module_mac_file=recorded.file if recorded else None)
    if fs.kind(module) is None:
        return [f"the FIPS module {module} does not exist"]
    evidence["module_mac_computed"] = computed = module_mac(fs, module)
    reasons = []
    if recorded is None:
        reasons.append(f"section {section} has no module-mac: fipsmodule.cnf is not included")
    elif not _same_mac(recorded.text, computed):
        reasons.append(f"module-mac in {recorded.file} does not match {module}: the module was "
                       "changed or replaced after fipsinstall")
    status, installed = config.get(section, "install-status"), config.get(section, "install-mac")
    if status and (installed is None or not _same_mac(installed.text, install_mac())):
        reasons.append(f"install-mac in section {section} does not match install-status")
    return reasons


def _same_mac(recorded: str, computed: str) -> bool:
    return recorded.replace(":", "").strip().upper() == computed.replace(":", "")


def _module(config: OpenSSLConfig, section: str, name: str) -> str:
    module = config.get(section, "module")
    return module.text if module else f"{name}.so"


@check("openssl.config", "The OpenSSL configuration activates the FIPS provider, asks for fips=yes, "
       "and the module's MAC matches the installed fips.so")
def openssl_config(ctx: ScanContext) -> Outcome:
    install = ctx.evidence(openssl_install)
    if not install.libcryptos:
        return not_applicable("no OpenSSL 3 libcrypto in the system library directories")
    fs = ctx.target.filesystem
    results = []
    policy = ctx.policy
    from_kernel = policy.origin("fips_mode_from_kernel") if policy.fips_mode_from_kernel else None
    for lib in install.libcryptos:
        try:
            reasons, evidence = evaluate_config(fs, lib, install.env, from_kernel=from_kernel)
        except (OSError, EvidenceError) as error:
            return errored(f"could not read the configuration for {lib.path}: {describe(error)}",
                           libcrypto=lib.path, exception=type(error).__name__)
        results.append({**evidence, "reasons": reasons})
    reasons = [r for result in results for r in result["reasons"]]
    configs = ", ".join(sorted({r["config"] for r in results}))
    if reasons:
        return failed(f"{configs}: " + "; ".join(reasons), configurations=results,
                      findings=[Finding(reason, r["config"]) for r in results for reason in r["reasons"]])
    return passed(f"{configs} activates the FIPS provider with fips=yes; module MAC verified",
                  configurations=results)
