"""Images of the Docker engine (``docker:NAME``, and a bare name): found in the engine, or
pulled into it by the engine as ``--pull`` says (``missing``, the default; ``always``;
``never``), for the ``--platform`` asked, with a progress line on stderr while pulling."""

from __future__ import annotations

from typing import Any

import docker
from docker.errors import APIError, ImageNotFound
from docker.models.images import Image as EngineImage

from ..errors import TargetError
from ..progress import ProgressLine
from .base import TargetConfig
from .engine import engine_address
from .oci import Platform
from .sources import PULL_POLICIES


def platform_of(attrs: dict[str, Any]) -> Platform:
    """The platform an engine's image inspection records."""
    return Platform(str(attrs.get("Os") or ""), str(attrs.get("Architecture") or ""),
                    str(attrs.get("Variant") or "")).normalized()


def platform_problem(client: docker.DockerClient, platform: Platform) -> str:
    """Why the engine cannot run an image of ``platform`` ("" when it can). Only the platforms
    are compared: an engine whose machine emulates others (binfmt_misc) is not recognised."""
    version = client.version()
    engine = Platform(str(version.get("Os") or "linux"), str(version.get("Arch") or "")).normalized()
    if engine.matches(platform) or platform.matches(engine):
        return ""
    return f"the image is {platform} and the engine at {engine_address()} runs {engine}"


def describe_engine_image(image: EngineImage) -> dict[str, Any]:
    """What the report's target records of an engine's image: ID, digests, platform, config."""
    attrs = image.attrs
    return {"image_id": image.id, "tags": list(image.tags),
            "digests": list(attrs.get("RepoDigests") or []), "platform": str(platform_of(attrs)),
            "config": TargetConfig.from_docker(attrs.get("Config")).to_dict()}


def engine_image(client: docker.DockerClient, name: str, pull: str = "missing",
                 platform: Platform | None = None) -> EngineImage:
    """The engine's image ``name`` for ``platform``, pulled first as ``pull`` says."""
    if pull not in PULL_POLICIES:
        raise ValueError(f"--pull must be one of {', '.join(PULL_POLICIES)}, not {pull!r}")
    if pull != "always":
        image = _local(client, name)
        if image is not None and (platform is None or platform.matches(platform_of(image.attrs))):
            return image
        if pull == "never":
            held = f" (the engine holds it for {platform_of(image.attrs)}, not {platform})" if image else ""
            raise TargetError(f"no such image: {name}{held}; --pull never forbids pulling it")
    _pull(client, name, platform)
    image = _local(client, name)
    if image is None:
        raise TargetError(f"the engine pulled {name} but does not hold it")
    return image


def _local(client: docker.DockerClient, name: str) -> EngineImage | None:
    try:
        return client.images.get(name)
    except ImageNotFound:
        return None
    except APIError as error:
        raise TargetError(f"cannot inspect image {name}: {error.explanation}") from None


def _pull(client: docker.DockerClient, name: str, platform: Platform | None) -> None:
    """Pull through the engine (its registry configuration and the Docker client's
    credentials apply), reporting layers done and bytes on a progress line."""
    progress = ProgressLine()
    progress.update(f"pulling {name}" + (f" for {platform}" if platform else ""))
    layers: dict[str, str] = {}
    current: dict[str, int] = {}
    try:
        events = client.api.pull(name, tag=None, platform=str(platform) if platform else None,
                                 stream=True, decode=True)
        for event in events:
            if event.get("error"):
                raise TargetError(f"cannot pull {name}: {event['error']}")
            if event.get("id") and event.get("status"):
                layers[event["id"]] = event["status"]
                detail = event.get("progressDetail") or {}
                if isinstance(detail.get("current"), int):
                    current[event["id"]] = detail["current"]
            done = sum(s in ("Pull complete", "Already exists") for s in layers.values())
            progress.update(f"pulling {name}: {done}/{len(layers)} layers, "
                            f"{sum(current.values()) / 2**20:.1f} MiB")
    except APIError as error:
        progress.done(f"pulling {name} failed")
        raise TargetError(f"cannot pull {name}: {error.explanation}") from None
    except TargetError:
        progress.done(f"pulling {name} failed")
        raise
    progress.done(f"pulled {name}")
