"""The optional parts of fipscheck and the extras that install them (pyproject.toml's
``[project.optional-dependencies]``). The core (``status()``, ``require()``, the preflight,
scans of a directory or an image archive) needs none of them, and imports them only where a
target needs one; a missing one is one line naming the extra to install."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import TargetError

# top-level module -> (the extra that installs it, what it is)
PROVIDERS = {
    "docker": ("docker", "the Docker SDK"),
    "requests": ("docker", "requests"),
    "urllib3": ("docker", "urllib3"),
    "testinfra": ("host", "testinfra"),
    "pytest": ("pytest", "pytest"),
}


class MissingExtraError(TargetError):
    """What a target needs is not installed; the message names the extra that installs it."""


@contextmanager
def needed(purpose: str) -> Iterator[None]:
    """Imports inside the block that fail for want of an optional package raise
    MissingExtraError, e.g. ``registry: sources need requests, which is not installed: pip
    install 'fipscheck[docker]'``; any other import error passes through."""
    try:
        yield
    except ModuleNotFoundError as error:
        top = (error.name or "").partition(".")[0]
        if top not in PROVIDERS:
            raise
        extra, what = PROVIDERS[top]
        raise MissingExtraError(f"{purpose} need {what}, which is not installed: "
                                f"pip install 'fipscheck[{extra}]'") from None
