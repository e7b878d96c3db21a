"""Where evidence comes from. Every target offers the same interface (``base.Target``)."""

from __future__ import annotations

from .base import ExecResult, Target, TargetConfig
from .image import ImageTarget
from .rootfs import RootfsTarget

__all__ = ["ExecResult", "ImageTarget", "RootfsTarget", "Target", "TargetConfig", "open_target"]


def open_target(kind: str, name: str) -> Target:
    """Open a target by kind (``image``, ``rootfs``) and name; raises TargetError."""
    factories = {"image": ImageTarget, "rootfs": RootfsTarget}
    if kind not in factories:
        raise ValueError(f"unknown target kind {kind!r}")
    return factories[kind](name)
