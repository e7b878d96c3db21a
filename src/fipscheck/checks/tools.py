"""``tools.required``: the commands the workload needs (``iptables``, ``ipset``,
``conntrack`` for a CNI) are on the target's PATH."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Finding
from ..probes.tools import find_required_tools
from . import Outcome, check, failed, not_applicable, passed

if TYPE_CHECKING:
    from ..runner import ScanContext


@check("tools.required", "Every command the policy requires is an executable file on the "
       "target's PATH", affirmative=False)
def required_tools(ctx: ScanContext) -> Outcome:
    if not ctx.policy.required_tools:
        return not_applicable("the policy requires no tools (--fips-require-tool NAME, "
                              "--require-tool NAME or Policy(required_tools=...))")
    lookup = find_required_tools(ctx)
    evidence = {"found": [t.to_dict() for t in lookup.found], "missing": list(lookup.missing),
                "PATH": lookup.search_path, "path_source": lookup.path_source}
    if lookup.missing:
        return failed(f"not on PATH: {', '.join(lookup.missing)}", **evidence,
                      findings=[Finding(f"{tool} is not on the target's PATH") for tool in lookup.missing])
    listed = ", ".join(t.path if t.path == t.resolved else f"{t.path} -> {t.resolved}"
                       for t in lookup.found)
    return passed(f"{len(lookup.found)} required tools found: {listed}", **evidence)
