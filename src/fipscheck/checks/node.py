"""``node.fips``: every Node.js runtime runs its crypto in FIPS mode, as the image starts it.

Statically: which OpenSSL it runs on (the shared libcrypto the loader gives it, or one it
carries), and whether the configuration section Node reads (``nodejs_conf``, or
``openssl_conf`` under ``--openssl-shared-config``) enforces FIPS as ``openssl.config``
requires, or ``--enable-fips``/``--force-fips`` turn it on. Where the target can run
commands, the image's own node confirms it: ``crypto.getFips()`` is 1 and MD5 is refused. A
runtime passes only when both agree; the probe can fail a runtime, never rescue one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import EvidenceError
from ..probes.node import NodeRuntime, NodeStart, node_runtimes
from ..probes.opensslconf import openssl_install
from . import Outcome, check, errored, failed, passed, runtime_absent
from .openssl_config import evaluate_config

if TYPE_CHECKING:
    from ..runner import ScanContext


def _static(ctx: ScanContext, runtime: NodeRuntime, start: NodeStart) -> tuple[list[str], dict[str, Any]]:
    """Why the runtime's crypto is not in FIPS mode as started (empty: it is), and evidence."""
    if runtime.bundled_openssl:
        return [f"carries its own {', '.join(runtime.bundled_openssl)}, not the image's FIPS "
                "libcrypto"], {"openssldir": runtime.openssldir}
    libs = {lib.path: lib for lib in ctx.evidence(openssl_install).libcryptos}
    if len(runtime.libcrypto) != 1 or runtime.libcrypto[0] not in libs:
        return [f"its programs do not resolve to one OpenSSL 3 libcrypto "
                f"({', '.join(runtime.libcrypto) or 'none found'})"], {}
    init_key = "openssl_conf" if start.shared_config else "nodejs_conf"
    reasons, evidence = evaluate_config(ctx.target.filesystem, libs[runtime.libcrypto[0]],
                                        ctx.target.config.env, start.config_file, init_key)
    if start.fips_flags:  # FIPS is switched on at start, or node refuses to start
        evidence["config_reasons"] = reasons
        return [], evidence
    return [f"{r} (the section Node reads)" if r.startswith("no `") else r for r in reasons], evidence


def _confirmed(run: dict[str, Any] | None) -> list[str]:
    """What the image's own node showed against FIPS mode (empty: nothing, or not run)."""
    if run is None or "skipped" in run:
        return []
    if run["exit_code"] != 0:
        return [f"node does not start as the image starts it (exit {run['exit_code']}): "
                f"{run.get('stderr', '').strip()[:300]}"]
    problems = []
    if run.get("fips") != 1:
        problems.append(f"crypto.getFips() is {run.get('fips')}")
    if run.get("md5") == "served":
        problems.append("MD5 is served")
    return problems


@check("node.fips", "Every Node.js runtime runs its crypto in FIPS mode as the image starts it "
       "(on the image's FIPS libcrypto, not a bundled OpenSSL)")
def node_fips(ctx: ScanContext) -> Outcome:
    found = ctx.evidence(node_runtimes)
    if not found.runtimes:
        return runtime_absent("Node.js runtime (an object defining napi_module_register)",
                              found.malformed)
    start = found.start
    assert start is not None
    evidence: dict[str, Any] = {"start": {"started_by": start.started_by, "command": start.command,
                                          "flags": start.flags, "NODE_OPTIONS": start.env_options},
                                "runtimes": []}
    problems = []
    for runtime in found.runtimes:
        try:
            reasons, static = _static(ctx, runtime, start)
        except (OSError, EvidenceError) as error:
            return errored(f"could not read the configuration for {runtime.node}: {error}", **evidence)
        reasons += _confirmed(runtime.run)
        evidence["runtimes"].append({"node": runtime.node, "programs": runtime.programs,
                                     "libcrypto": runtime.libcrypto,
                                     "bundled_openssl": runtime.bundled_openssl,
                                     "configuration": static, "run": runtime.run, "reasons": reasons})
        if reasons:
            problems.append(f"{runtime.node}: {'; '.join(reasons)}")
    if problems:
        return failed("Node.js crypto not in FIPS mode: " + "; ".join(problems), **evidence)
    if found.malformed:
        return errored("objects named like Node.js could not be read", malformed=found.malformed,
                       **evidence)
    how = "confirmed by the image's node" if all(r.run and "fips" in r.run for r in found.runtimes) \
        else "not confirmed at run time: this target cannot run commands"
    return passed(f"{len(found.runtimes)} Node.js runtime(s) in FIPS mode as started ({how})",
                  **evidence)
