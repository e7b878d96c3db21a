"""Where evidence comes from. Every target offers the same interface (``base.Target``).

The target classes and the image sources are imported when first used: the Docker SDK and
testinfra cost more to import than the rest of fipscheck, and ``fipscheck.status()`` in an
application needs none of them (it imports ``targets.process``, which runs this file first).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

from ..extras import needed
from .base import ExecResult, Target, TargetConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from .container import ContainerTarget
    from .host import HostTarget
    from .image import ImageTarget
    from .rootfs import RootfsTarget
    from .sources import SourceOptions

__all__ = ["ContainerTarget", "ExecResult", "HostTarget", "ImageTarget", "RootfsTarget", "SourceOptions",
           "Target", "TargetConfig", "open_target"]

# target kind -> (module, class)
KINDS = {"image": ("image", "ImageTarget"), "container": ("container", "ContainerTarget"),
         "host": ("host", "HostTarget"), "rootfs": ("rootfs", "RootfsTarget")}
# public name -> the module of this package that defines it
_MODULES = {cls: module for module, cls in KINDS.values()} | {"SourceOptions": "sources"}


def __getattr__(name: str) -> type:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return cast("type", getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name))


def open_target(kind: str, name: str, options: SourceOptions | None = None,
                **kind_options: Any) -> Target:
    """Open a target by kind (``image``, ``container``, ``host``, ``rootfs``) and name (for an
    image, a source string: ``registry:REF``, ``oci-dir:DIR``, ...; see ``sources``), with
    options of that kind (``all_filesystems`` for a host); raises TargetError."""
    if kind not in KINDS:
        raise ValueError(f"unknown target kind {kind!r}")
    if kind in ("image", "rootfs"):
        from .sources import open_source

        if kind_options:
            raise ValueError(f"{', '.join(kind_options)}: not an option of {kind} targets")
        return open_source(name if kind == "image" else f"dir:{name}", options)
    module, cls = KINDS[kind]
    with needed("running containers" if kind == "container" else "hosts"):
        # a Target subclass; their constructors take options of their own kind
        target_class = cast("Callable[..., Target]",
                            getattr(importlib.import_module(f"{__name__}.{module}"), cls))
    return target_class(name, **kind_options)
