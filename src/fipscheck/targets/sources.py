"""The source grammar users know from syft, grype and trivy: ``SCHEME:REFERENCE``, a bare name
being an image of the local Docker engine.

- ``docker:NAME``          an image of the Docker engine (pulled into it as ``--pull`` says)
- ``registry:REF``         pulled from a registry without a daemon (tag or ``@sha256:`` digest)
- ``docker-archive:FILE``  ``docker save`` output (``FILE:TAG`` picks one of several images)
- ``oci-archive:FILE``     an OCI image layout in a tar archive
- ``oci-dir:DIR``          an OCI image layout in a directory (``DIR:NAME`` picks a ref name)
- ``dir:DIR``              a root filesystem (``--rootfs``), configured by ``--config``/``--env``
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import TargetError
from ..extras import needed
from .base import TargetConfig

if TYPE_CHECKING:
    from .base import Target
    from .oci import Platform

# .oci (manifests, indexes, digests) is imported where a source needs it: a bare directory
# without --platform or --config (`scan --rootfs`) does not.

SCHEMES = ("docker", "registry", "docker-archive", "oci-archive", "oci-dir", "dir")
FILE_SCHEMES = ("docker-archive", "oci-archive", "oci-dir", "dir")  # references that are paths
PULL_POLICIES = ("missing", "always", "never")  # --pull, for engine images


@dataclass(frozen=True)
class Source:
    scheme: str
    reference: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.reference}"


def parse_source(text: str) -> Source:
    """``registry:ghcr.io/x/y:1`` -> Source("registry", "ghcr.io/x/y:1"); a name with no
    known scheme (``alpine:3.20``, ``localhost:5000/app``) is an engine image."""
    scheme, colon, reference = text.partition(":")
    if colon and scheme in SCHEMES:
        if not reference:
            raise ValueError(f"{text!r} names no {scheme} reference after the colon")
        return Source(scheme, reference)
    if not text:
        raise ValueError("an empty image source")
    return Source("docker", text)


@dataclass(frozen=True)
class SourceOptions:
    """How sources are opened: ``--pull``, ``--platform``, ``--insecure-registry``, and for a
    bare directory its configuration (``--config FILE``, ``--env KEY=VALUE``)."""

    pull: str = "missing"
    platform: Platform | None = None
    insecure_registry: bool = False
    config_file: str = ""
    env: tuple[str, ...] = ()

    @classmethod
    def from_arguments(cls, pull: str, platform: str | None, insecure_registry: bool,
                       config_file: str, env: list[str]) -> SourceOptions:
        """From the values of the command line's (or the pytest plugin's) options."""
        chosen = None
        if platform:
            from .oci import Platform

            chosen = Platform.parse(platform)
        return cls(pull, chosen, insecure_registry, config_file, tuple(env))


def open_source(text: str, options: SourceOptions | None = None) -> Target:
    """Open the target a source string names; raises TargetError (or ValueError for a string
    or option that makes no sense)."""
    options = options or SourceOptions()
    source = parse_source(text)
    if source.scheme != "dir" and (options.config_file or options.env):
        raise ValueError("--config and --env configure a bare directory (dir:DIR or --rootfs); "
                         "an image brings its own configuration")
    if source.scheme == "docker":
        with needed("images of a Docker engine"):
            from .image import ImageTarget

        return ImageTarget(source.reference, pull=options.pull, platform=options.platform)
    if source.scheme == "dir":
        from .rootfs import RootfsTarget

        return RootfsTarget(source.reference, directory_config(options))
    from .unpacked import UnpackedImageTarget

    return UnpackedImageTarget(source, options)


def directory_config(options: SourceOptions) -> TargetConfig:
    """The configuration a bare directory is checked with: ``--config FILE`` (an OCI or
    Docker image configuration, or ``docker inspect`` output), then each ``--env``."""
    config = TargetConfig()
    if options.config_file:
        try:
            data = Path(options.config_file).read_bytes()
        except OSError as error:
            raise TargetError(f"cannot read --config {options.config_file}: {error}") from None
        from .oci import MAX_CONFIG, load_json

        config = TargetConfig.from_docker(_config_object(load_json(data, MAX_CONFIG, options.config_file)))
    env = dict(config.env)
    for assignment in options.env:
        key, equals, value = assignment.partition("=")
        if not equals or not key:
            raise ValueError(f"--env takes KEY=VALUE, not {assignment!r}")
        env[key] = value
    return TargetConfig(env, config.entrypoint, config.cmd, config.user, config.workdir)


def _config_object(document: Any) -> dict[str, Any]:
    """The ``Env``/``Entrypoint``/... object of an image configuration (``config``), a
    ``docker inspect`` answer (``Config``, maybe in a list), or that object itself."""
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict):
        raise TargetError("--config is neither an image configuration nor docker inspect output")
    for key in ("config", "Config"):
        if isinstance(document.get(key), dict):
            return cast("dict[str, Any]", document[key])
    return document
