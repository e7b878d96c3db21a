"""Commands looked up on the target's PATH inside its filesystem, as its shell would find
them, without running anything: each PATH entry and symlink resolves inside the root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

# What the Docker engine gives a container whose image sets no PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class FoundTool:
    name: str
    path: str  # where PATH lookup finds it
    resolved: str  # the file it is after symlinks (inside the root)

    def to_dict(self) -> dict[str, str]:
        return {"tool": self.name, "path": self.path, "resolved": self.resolved}


@dataclass(frozen=True)
class ToolLookup:
    search_path: str
    path_source: str  # "target" or "default"
    found: tuple[FoundTool, ...]
    missing: tuple[str, ...]


def path_directories(search_path: str) -> list[str]:
    """A PATH value's directories; relative entries mean nothing without a working directory."""
    return [d for d in search_path.split(":") if d.startswith("/")]


def find_required_tools(ctx: ScanContext) -> ToolLookup:
    fs = ctx.target.filesystem
    configured = ctx.target.config.env.get("PATH")
    search_path = configured or DEFAULT_PATH
    directories = path_directories(search_path)
    found, missing = [], []
    for tool in ctx.policy.required_tools:
        candidates = [tool] if "/" in tool else [f"{d.rstrip('/')}/{tool}" for d in directories]
        hit = next((t for t in (_executable(fs, tool, c) for c in candidates) if t), None)
        if hit:
            found.append(hit)
        else:
            missing.append(tool)
    return ToolLookup(search_path, "target" if configured else "default", tuple(found),
                      tuple(missing))


def _executable(fs: RootFilesystem, tool: str, path: str) -> FoundTool | None:
    resolved = fs.executable(path)
    return FoundTool(tool, path, resolved) if resolved else None
