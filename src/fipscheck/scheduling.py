"""pytest-xdist scheduling that keeps a target's tests on one worker.

With xdist's default ``--dist load`` the items of one image are spread over every worker,
and each worker opens the image for itself: a container created and exported per worker.
This scheduler hands out a target's built-in checks and the user's tests on that target
(parametrized with its label) as one unit of work, so each target is opened once; every
other test is a unit of its own, distributed as ``load`` distributes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

# pytest-xdist has inline annotations but no py.typed marker: mypy does not read it
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

if TYPE_CHECKING:
    import pytest
    from xdist.remote import Producer  # type: ignore[import-untyped]  # as above


def target_scope(nodeid: str, labels: Iterable[str]) -> str:
    """The unit of work a node ID belongs to: ``fips[LABEL]`` for a built-in check on a
    target (``fips[LABEL]::CHECK``) or a test parametrized with that target's label, else
    the node ID itself."""
    if nodeid.startswith("fips[") and "]::" in nodeid:
        return nodeid.rsplit("::", 1)[0]
    name = nodeid.rsplit("::", 1)[-1]
    if "[" in name and name.endswith("]"):
        params = name[name.index("[") + 1:-1]
        # the longest label first: "app:1" must not claim a test of "app:10"
        for label in sorted(labels, key=len, reverse=True):
            if label in params:
                return f"fips[{label}]"
    return nodeid


class TargetScheduling(LoadScopeScheduling):  # type: ignore[misc]  # Any to mypy (see the import)
    """``--dist load`` with each target's tests as one unit (see the module docstring)."""

    def __init__(self, config: pytest.Config, log: Producer | None = None,
                 labels: Iterable[str] = ()) -> None:
        super().__init__(config, log)
        self.labels = list(labels)

    def _split_scope(self, nodeid: str) -> str:
        return target_scope(nodeid, self.labels)
