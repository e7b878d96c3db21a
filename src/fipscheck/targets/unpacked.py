"""An image that is not in the engine: pulled from a registry, or read from a ``docker save``
archive or an OCI layout. Its filesystem is its layers applied by fipscheck (no engine needed),
its configuration the image's own. Runtime checks need an engine that can run it: the image is
then loaded into it (streamed from the verified blobs, untagged, so no tag of the engine
changes) and checked in a container of fipscheck's as an engine image is; it is removed again
at the end unless the engine held it before. Without such an engine, runtime checks are not
applicable, and say why. The Docker SDK is imported only once an engine is asked for: a scan
of static checks alone needs none."""

from __future__ import annotations

import contextlib
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import workdir
from ..errors import TargetError
from ..extras import MissingExtraError, needed
from ..fs import RootFilesystem
from ..progress import ProgressLine
from . import archives
from .base import ExecResult, Target, TargetConfig
from .export import ExtractStats, Scratch, scratch_dir
from .layers import apply_layers
from .oci import MAX_CONFIG, Image, Platform, VerifiedReader, read_blob

if TYPE_CHECKING:
    from docker import DockerClient

    from .image import ImageTarget
    from .sources import Source, SourceOptions

BLOCK = 512


def open_image(source: Source, options: SourceOptions, workdir: Path, progress: ProgressLine) -> Image:
    """Resolve a registry, archive or layout source to one image (manifest and configuration
    read and verified; layers are read, and a registry's downloaded, later)."""
    if source.scheme == "registry":
        with needed("registry: sources"):  # requests; archives and layouts need nothing more
            from .registry import Reference, pull

        try:
            ref = Reference.parse(source.reference)
        except ValueError as error:
            raise TargetError(str(error)) from None
        return pull(ref, options.insecure_registry, options.platform, workdir / "layout", progress)
    path, name = archives.split_selector(source.reference)
    if source.scheme == "oci-dir":
        return archives.open_layout(archives.DirectoryStore(path), name, options.platform)
    store = archives.TarStore(path, workdir)
    try:
        if source.scheme == "oci-archive":
            return archives.open_layout(store, name, options.platform)
        return archives.open_docker_archive(store, name, options.platform)
    except BaseException:
        store.close()
        raise


class UnpackedImageTarget(Target):
    kind = "image"

    def __init__(self, source: Source, options: SourceOptions) -> None:
        super().__init__(str(source))
        self.source = source
        # blobs of this image: in the run directory, so a killed run leaves them to the reaper
        self._workdir = Path(tempfile.mkdtemp(prefix="image-", dir=workdir.run_directory()))
        self._progress = ProgressLine()
        try:
            self.image = open_image(source, options, self._workdir, self._progress)
        except BaseException:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise
        self._root: Path | None = None
        self._scratch: Scratch | None = None
        self._fs: RootFilesystem | None = None
        self.layer_stats: ExtractStats | None = None
        self._engine_checked = False
        self._no_engine = ""  # why runtime checks cannot run, once the engine was asked
        self._runtime: ImageTarget | None = None
        self._loaded = False  # the engine did not hold the image before we loaded it

    def describe(self) -> dict[str, Any]:
        described = {"kind": self.kind, "name": self.name, "source": self.source.scheme,
                     **self.image.describe()}
        if self.layer_stats is not None:
            stats = self.layer_stats
            described["layers_applied"] = {"files": stats.files, "bytes": stats.bytes,
                                           "whiteouts": stats.whiteouts, "skipped": stats.skipped}
        if self._scratch is not None:
            described["export"] = self._scratch.to_dict()
        if self._no_engine:
            described["runtime"] = self._no_engine
        return described

    @property
    def config(self) -> TargetConfig:
        return self.image.target_config()

    @property
    def filesystem(self) -> RootFilesystem:
        if self._fs is None:
            compressed = sum(layer.descriptor.size for layer in self.image.layers)
            self._scratch = scratch_dir(3 * compressed)  # uncompressed size is not declared
            self._root = self._scratch.path
            layers = f"{len(self.image.layers)} layers of {self.name}"
            self._progress.update(f"applying {layers}")
            self.layer_stats = apply_layers(self.image, self._root)
            fetched = getattr(self.image.store, "downloaded", 0)
            self._progress.done(f"applied {layers}: {self.layer_stats.files} files"
                                + (f", {fetched / 2**20:.1f} MiB fetched" if fetched else ""))
            self._fs = RootFilesystem(self._root)
        return self._fs

    # -- runtime, through an engine -------------------------------------------------------

    @property
    def can_run(self) -> bool:  # type: ignore[override]
        return not self._engine_problem()

    @property
    def cannot_run_reason(self) -> str:
        return self._engine_problem() or super().cannot_run_reason

    def _engine_problem(self) -> str:
        """Why no engine can run this image ("" when one can); asked once."""
        if not self._engine_checked:
            self._engine_checked = True
            self._no_engine = _engine_problem(self.image.platform, self.source)
        return self._no_engine

    def _container(self) -> ImageTarget:
        if self._runtime is None:
            problem = self._engine_problem()
            if problem:
                raise TargetError(problem)
            from .engine import docker_client
            from .image import ImageTarget

            self._loaded = load_into_engine(docker_client(), self.image)
            self._runtime = ImageTarget(self.image.config_digest, pull="never")
        return self._runtime

    def exec(self, argv: list[str], env: dict[str, str] | None = None) -> ExecResult:
        return self._container().exec(argv, env)

    def put_file(self, path: str, data: bytes, mode: int = 0o755) -> None:
        self._container().put_file(path, data, mode)

    def close(self) -> None:
        """The container, the loaded image, the store, the directories: each step runs even
        when one before it fails (callbacks run last-registered first)."""
        with contextlib.ExitStack() as cleanup:
            for directory in (self._workdir, self._root):
                if directory is not None:
                    cleanup.callback(shutil.rmtree, directory, ignore_errors=True)
            cleanup.callback(self.image.store.close)
            if self._loaded:
                cleanup.callback(_remove_loaded, self.image.config_digest)
            if self._runtime is not None:
                cleanup.callback(self._runtime.close)
            self._runtime, self._loaded, self._root, self._fs = None, False, None, None


def _engine_problem(platform: Platform, source: Source) -> str:
    try:
        with needed("runtime checks of an image"):
            from docker.errors import DockerException
            from requests import RequestException

            from .engine import docker_client, engine_address, reason
            from .pull import platform_problem
    except MissingExtraError as missing:
        return f"{missing}; the image from {source.scheme} is checked by its files alone"

    try:
        return platform_problem(docker_client(), platform)
    except TargetError as error:  # no engine: docker_client() said where it looked
        return f"{error}; the image from {source.scheme} is checked by its files alone"
    except (DockerException, RequestException) as error:
        return (f"the Docker engine at {engine_address()} did not answer ({reason(error)}); the "
                f"image from {source.scheme} is checked by its files alone")


def load_into_engine(client: DockerClient, image: Image) -> bool:
    """Load the image into the engine unless it holds it already (by its ID); True if loaded."""
    from docker.errors import APIError, ImageNotFound

    try:
        client.images.get(image.config_digest)
        return False
    except ImageNotFound:
        pass
    except APIError as error:
        raise TargetError(f"cannot inspect image {image.config_digest}: {error.explanation}") from None
    progress = ProgressLine()
    progress.update(f"loading {image.config_digest[:19]} into the engine for runtime checks")
    try:
        # types-docker leaves load_image unannotated
        for event in client.api.load_image(_docker_archive(image)):  # type: ignore[no-untyped-call]
            if isinstance(event, dict) and event.get("error"):
                raise TargetError(f"the engine did not load the image: {event['error']}")
    except APIError as error:
        raise TargetError(f"the engine did not load the image: {error.explanation}") from None
    progress.done(f"loaded {image.config_digest[:19]} into the engine")
    return True


def _remove_loaded(image_id: str) -> None:
    """Remove an image we loaded; one still used by a container (another run's) stays."""
    from docker.errors import APIError

    from .engine import docker_client

    with contextlib.suppress(APIError, TargetError):
        docker_client().images.remove(image_id, noprune=False)


def _docker_archive(image: Image) -> Iterator[bytes]:
    """The image as a legacy ``docker save`` archive, which every engine loads, streamed from
    its blobs (each verified as it is read): ``manifest.json``, the configuration, the layers
    as they are stored (the engine decompresses them itself)."""
    config = read_blob(image.store, image.config_blob, MAX_CONFIG, "the image configuration")
    layers = [f"{n}.tar" for n in range(len(image.layers))]
    manifest = json.dumps([{"Config": "config.json", "RepoTags": None, "Layers": layers}]).encode()
    yield from _member("manifest.json", manifest)
    yield from _member("config.json", config)
    for name, layer in zip(layers, image.layers, strict=True):
        descriptor = layer.descriptor
        info = tarfile.TarInfo(name)
        info.size, info.mode = descriptor.size, 0o644
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        with image.store.open(descriptor) as raw:
            reader = VerifiedReader(raw, descriptor.digest, descriptor.size, f"layer {descriptor.digest}")
            while chunk := reader.read(1 << 20):
                yield chunk
            reader.drain()
        yield b"\0" * (-descriptor.size % BLOCK)
    yield b"\0" * (2 * BLOCK)


def _member(name: str, data: bytes) -> Iterator[bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    yield data + b"\0" * (-len(data) % BLOCK)
