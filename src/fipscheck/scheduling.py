"""pytest-xdist scheduling that keeps a target's tests on one worker.

With xdist's default ``--dist load`` the items of one image are spread over every worker,
and each worker opens the image for itself: a container created and exported per worker.
This scheduler hands out a target's built-in checks and the user's tests on that target
(parametrized with its label) as one unit of work, so each target is opened once; every
other test is a unit of its own, distributed as ``load`` distributes it. The heaviest
targets go out first (longest processing time first): the last one to finish is then a short
one, not a large image started while the other worker runs out of work.

Each xdist worker also takes only its share of the cores for a scan's ELF analysis processes
(``analysis_share``): with one analysis process per core in every worker, two workers on two
cores would start four CPU-bound processes beside the engine's exports, for no more cores.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping, MutableMapping
from contextlib import closing
from typing import TYPE_CHECKING, TypeVar

# pytest-xdist has inline annotations but no py.typed marker: mypy does not read it
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

from .targets.sources import parse_source

if TYPE_CHECKING:
    import pytest
    from xdist.remote import Producer  # type: ignore[import-untyped]  # as above

V = TypeVar("V")


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


def analysis_share(cores: int, xdist_workers: int) -> int:
    """ELF analysis processes for one of ``xdist_workers`` workers on ``cores`` cores: its
    share, at least 1 (``FIPSCHECK_WORKERS=1``: the scan analyses in its own process)."""
    return max(1, cores // max(1, xdist_workers))


def share_cores(environ: MutableMapping[str, str], xdist_workers: int) -> None:
    """In an xdist worker: limit its scans' analysis processes to its share of the cores
    through ``FIPSCHECK_WORKERS`` (probes/inventory.py), unless the user has set it."""
    if not environ.get("FIPSCHECK_WORKERS"):
        environ["FIPSCHECK_WORKERS"] = str(analysis_share(len(os.sched_getaffinity(0)), xdist_workers))


def image_weight(source: str) -> int:
    """How much work an image source is, for ordering only: its size in bytes (the engine's
    figure for an engine image, the file's for an archive), 0 when unknown. Best effort: a
    source that cannot be sized is opened (and its error reported) by its worker as usual."""
    try:
        parsed = parse_source(source)
        if parsed.scheme in ("docker-archive", "oci-archive"):
            return os.stat(parsed.reference).st_size
        if parsed.scheme == "docker":
            from .targets.engine import docker_client  # the docker SDK only when needed

            with closing(docker_client()) as client:
                return int(client.images.get(parsed.reference).attrs.get("Size") or 0)
    except Exception:  # unknown size: the order of the command line
        return 0
    return 0


def heaviest_first(workqueue: OrderedDict[str, V], weights: Mapping[str, int]) -> None:
    """Reorders the work units, heaviest first; units of equal weight (every test that is
    no target's: 0) keep their order."""
    units = sorted(workqueue.items(), key=lambda unit: -weights.get(unit[0], 0))
    workqueue.clear()
    workqueue.update(units)


class TargetScheduling(LoadScopeScheduling):  # type: ignore[misc]  # Any to mypy (see the import)
    """``--dist load`` with each target's tests as one unit (see the module docstring)."""

    def __init__(self, config: pytest.Config, log: Producer | None = None,
                 labels: Iterable[str] = (), weights: Mapping[str, int] | None = None) -> None:
        super().__init__(config, log)
        self.labels = list(labels)
        self.weights = {f"fips[{label}]": weight for label, weight in (weights or {}).items()}
        self._ordered = False

    def _assign_work_unit(self, node: object) -> None:
        # the first assignment comes once the whole work queue is built (schedule())
        if not self._ordered:
            self._ordered = True
            heaviest_first(self.workqueue, self.weights)
        super()._assign_work_unit(node)

    def _split_scope(self, nodeid: str) -> str:
        return target_scope(nodeid, self.labels)
