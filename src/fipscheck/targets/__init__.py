"""Where evidence comes from. Every target offers the same interface (``base.Target``)."""

from __future__ import annotations

from .base import ExecResult, Target, TargetConfig
from .container import ContainerTarget
from .host import HostTarget
from .image import ImageTarget
from .rootfs import RootfsTarget

__all__ = ["ContainerTarget", "ExecResult", "HostTarget", "ImageTarget", "RootfsTarget", "Target",
           "TargetConfig", "open_target"]

KINDS = {"image": ImageTarget, "container": ContainerTarget, "host": HostTarget,
         "rootfs": RootfsTarget}


def open_target(kind: str, name: str) -> Target:
    """Open a target by kind (``image``, ``container``, ``host``, ``rootfs``) and name;
    raises TargetError."""
    if kind not in KINDS:
        raise ValueError(f"unknown target kind {kind!r}")
    return KINDS[kind](name)
