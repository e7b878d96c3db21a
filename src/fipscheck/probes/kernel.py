"""The kernel's FIPS switch, ``/proc/sys/crypto/fips_enabled``, read where the target's
processes run. /proc/sys/crypto is not namespaced: a container sees its host's value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import EvidenceError

if TYPE_CHECKING:
    from ..runner import ScanContext

FIPS_ENABLED = "/proc/sys/crypto/fips_enabled"


@dataclass(frozen=True)
class KernelFips:
    value: str | None  # "1", "0", or None when the file does not exist

    def to_dict(self) -> dict[str, object]:
        return {"file": FIPS_ENABLED, "present": self.value is not None, "fips_enabled": self.value}


def read_kernel_fips(ctx: ScanContext) -> KernelFips:
    done = ctx.target.exec(["cat", FIPS_ENABLED])
    if done.exit_code == 0:
        return KernelFips(done.text.strip())
    message = done.stderr.decode("utf-8", errors="replace").strip()
    if "No such file" in message:  # coreutils and busybox both say so
        return KernelFips(None)
    raise EvidenceError(f"cat {FIPS_ENABLED} exited {done.exit_code}: {message}")
