"""``kernel.fips``: the kernel runs in FIPS mode (``fips=1`` on its command line).

Only a host has a kernel of its own. A container (an image's, a running one, or a host URL
that reaches a container) shares the kernel of whatever machine runs it, so for those the
value is reported as information about that machine and the check is not applicable: the
image cannot be blamed for, nor credited with, its host's kernel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import FipscheckError
from ..probes.kernel import read_kernel_fips
from . import Outcome, check, failed, not_applicable, passed

if TYPE_CHECKING:
    from ..runner import ScanContext


@check("kernel.fips", "The host kernel runs in FIPS mode (/proc/sys/crypto/fips_enabled = 1)",
       needs_runtime=True)
def kernel_fips(ctx: ScanContext) -> Outcome:
    if not ctx.target.own_kernel:
        return _shared_kernel(ctx)
    kernel = ctx.evidence(read_kernel_fips)
    evidence: dict[str, Any] = kernel.to_dict()
    if kernel.value == "1":
        return passed("the kernel runs in FIPS mode (fips_enabled = 1)", **evidence)
    if kernel.value is None:
        return failed("the kernel has no FIPS mode: /proc/sys/crypto/fips_enabled does not exist "
                      "(a kernel built without CONFIG_CRYPTO_FIPS, or a sandboxed one)", **evidence)
    return failed(f"the kernel is not in FIPS mode (fips_enabled = {kernel.value}; boot it with "
                  "fips=1)", **evidence)


def _shared_kernel(ctx: ScanContext) -> Outcome:
    owner = (f"this {ctx.target.kind} target is a container, and a container shares the kernel "
             "of the machine that runs it")
    try:
        kernel = ctx.evidence(read_kernel_fips)
    except FipscheckError as error:  # information only: an unreadable value changes no verdict
        return not_applicable(f"{owner}; its FIPS mode could not be read from inside: {error}",
                              kernel="host's")
    seen = kernel.value if kernel.value is not None else "absent"
    return not_applicable(f"{owner} (information: fips_enabled as seen from inside is {seen}, "
                          "the host kernel's)", kernel="host's", **kernel.to_dict())
