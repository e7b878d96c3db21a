"""``wolfssl.fips``: wolfSSL, when present, is a FIPS build that passed its self-tests (the
native checker's report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..probes.native import native_outcome
from . import Outcome, check

if TYPE_CHECKING:
    from ..runner import ScanContext


@check("wolfssl.fips", "wolfSSL, when present, is a FIPS build whose status is OK",
       needs_runtime=True)
def wolfssl_fips(ctx: ScanContext) -> Outcome:
    return native_outcome(ctx, "wolfssl.fips", lambda report: {"wolfssl": report["wolfssl"]})
