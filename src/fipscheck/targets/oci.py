"""Images as the OCI image spec and Docker's v2 schema 2 describe them, wherever they are stored:
descriptors, platforms, manifests and indexes, the image configuration, and blob reads that are
bounded and verified against their digest. Where blobs come from (a layout directory, an
archive, a registry) is a ``BlobStore``; choosing the image for a platform, reading its manifest
and configuration is the same for all of them (``resolve``).

Written here, not taken from a library: the image-spec libraries on PyPI (oras-py, the old
docker-registry-client) neither bound what they read nor verify digests while streaming, and
the part of the spec needed is small.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast

from ..errors import TargetError
from .base import TargetConfig

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
LAYER_TYPES = frozenset({
    "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
})
REF_NAME = "org.opencontainers.image.ref.name"

# Bounds on what is read before anything is trusted (the registry's own manifest limit is 4 MiB).
MAX_MANIFEST = 4 << 20
MAX_CONFIG = 8 << 20
MAX_LAYERS = 512
MAX_INDEX_ENTRIES = 4096
MAX_INDEX_DEPTH = 4
MAX_LAYER_BYTES = 64 << 30  # what one image may download or read, compressed

DIGEST = re.compile(r"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")

# uname -m -> the architecture names of the image spec (Go's GOARCH)
MACHINE_TO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
                   "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def load_json(data: bytes, limit: int, what: str) -> Any:
    """Parse a JSON document of at most ``limit`` bytes; anything else is a TargetError."""
    if len(data) > limit:
        raise TargetError(f"{what} is larger than {limit} bytes")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise TargetError(f"{what} is not valid JSON: {error}") from None


def json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TargetError(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm64``, ``linux/arm/v7``, ``linux/amd64``."""
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(re.fullmatch(r"[a-z0-9_.-]+", p) for p in parts):
            raise ValueError(f"not a platform: {text!r} (OS/ARCH[/VARIANT], e.g. linux/arm64)")
        return cls(*parts).normalized()

    @classmethod
    def host(cls) -> Platform:
        machine = os.uname().machine  # as platform.machine(), without importing it
        return cls("linux", MACHINE_TO_ARCH.get(machine, machine)).normalized()

    @classmethod
    def from_json(cls, value: Any) -> Platform | None:
        if not isinstance(value, dict) or not isinstance(value.get("architecture"), str):
            return None
        return cls(str(value.get("os") or ""), value["architecture"],
                   str(value.get("variant") or "")).normalized()

    def normalized(self) -> Platform:
        """As containerd's platforms package normalises: arm64's only variant is v8, amd64's
        microarchitecture levels do not change what runs the image."""
        arch = MACHINE_TO_ARCH.get(self.architecture, self.architecture)
        variant = self.variant
        if arch == "arm64" and variant in ("v8", "8"):
            variant = ""
        if arch == "amd64" and variant in ("v1",):
            variant = ""
        return Platform(self.os, arch, variant)

    def matches(self, other: Platform) -> bool:
        """Whether an image for ``other`` is what was asked for with ``self``; a request
        without variant takes any variant."""
        return (self.os == other.os and self.architecture == other.architecture
                and (not self.variant or self.variant == other.variant))

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, value: Any, what: str) -> Descriptor:
        value = json_object(value, what)
        digest, size = value.get("digest"), value.get("size")
        if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            raise TargetError(f"{what} has no valid digest ({str(digest)[:80]!r})")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise TargetError(f"{what} has no valid size")
        annotations = value.get("annotations") if isinstance(value.get("annotations"), dict) else {}
        return cls(str(value.get("mediaType") or ""), digest, size, Platform.from_json(value.get("platform")),
                   {str(k): str(v) for k, v in annotations.items()})

    @property
    def path(self) -> str:
        """Where an OCI image layout keeps the blob."""
        algorithm, hexdigest = self.digest.split(":", 1)
        return f"blobs/{algorithm}/{hexdigest}"


class _ReadsInto(Protocol):
    def readinto(self, buffer: WriteableBuffer, /) -> int | None: ...


class VerifiedReader(io.RawIOBase):
    """Reads a blob through, hashing it; at its end the digest (and size, if known) must be
    the expected ones, and it may never grow past that size: otherwise TargetError."""

    def __init__(self, raw: BinaryIO, digest: str, size: int | None, what: str) -> None:
        """``digest`` "": only the size is checked (a legacy archive's layer tar, verified by
        its diff ID once uncompressed)."""
        self._raw, self._expected, self._size, self._what = raw, digest, size, what
        self._hash = hashlib.new(digest.split(":", 1)[0]) if digest else None
        self.count = 0
        self.verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._size is not None:  # never read past the declared size (a bound on downloads)
            buffer = memoryview(buffer)[:max(0, self._size - self.count) + 1]
        # every store's stream is an io object (FileIO, BufferedReader, GzipFile, ZstdFile) and
        # has readinto, which typing.BinaryIO does not declare
        n = cast("_ReadsInto", self._raw).readinto(buffer)
        if n:
            if self._hash is not None:
                self._hash.update(memoryview(buffer)[:n])
            self.count += n
            if self._size is not None and self.count > self._size:
                raise TargetError(f"{self._what} is larger than its declared {self._size} bytes")
            return n
        self._finish()
        return 0

    def _finish(self) -> None:
        if self.verified:
            return
        if self._size is not None and self.count != self._size:
            raise TargetError(f"{self._what} has {self.count} bytes, not the declared {self._size}")
        actual = f"{self._hash.name}:{self._hash.hexdigest()}" if self._hash else ""
        if actual != self._expected:
            raise TargetError(f"{self._what} does not match its digest: {actual} instead of "
                              f"{self._expected}")
        self.verified = True

    def drain(self) -> None:
        """Read the rest (the tail after a tar's end marker counts too) and verify."""
        while self.read(1 << 20):
            pass
        self._finish()


class BlobStore(Protocol):
    """Where an image's blobs are: ``open`` gives the raw bytes of a blob, unverified."""

    where: str

    def open(self, descriptor: Descriptor) -> BinaryIO: ...

    def close(self) -> None:
        """Release what the store holds open (an archive, a connection)."""


def read_blob(store: BlobStore, descriptor: Descriptor, limit: int, what: str) -> bytes:
    """A small blob (manifest, index, configuration), read whole and verified."""
    if descriptor.size > limit:
        raise TargetError(f"{what} is {descriptor.size} bytes, more than the {limit} allowed")
    with store.open(descriptor) as raw:
        reader = VerifiedReader(raw, descriptor.digest, descriptor.size, what)
        data = io.BufferedReader(reader).read()
        reader.drain()
    return data


def read_json_blob(store: BlobStore, descriptor: Descriptor, limit: int, what: str) -> dict[str, Any]:
    """A manifest, index or configuration: read, verified, parsed, a JSON object."""
    return json_object(load_json(read_blob(store, descriptor, limit, what), limit, what), what)


@dataclass(frozen=True)
class Layer:
    descriptor: Descriptor
    diff_id: str  # sha256 of the uncompressed tar, from the configuration's rootfs


@dataclass(frozen=True)
class Image:
    """One image for one platform, its manifest and configuration read and verified."""

    store: BlobStore
    digest: str  # what the reference resolved to: an index's digest, or the manifest's ("": none)
    manifest: Descriptor | None  # None in a legacy docker save archive
    config_blob: Descriptor
    config: dict[str, Any]
    layers: tuple[Layer, ...]
    platform: Platform

    @property
    def config_digest(self) -> str:
        """The image ID an engine gives it."""
        return self.config_blob.digest

    def target_config(self) -> TargetConfig:
        return TargetConfig.from_docker(self.config.get("config"))

    def describe(self) -> dict[str, Any]:
        digests = {"digest": self.digest} if self.digest else {}
        if self.manifest is not None and self.manifest.digest != self.digest:
            digests["manifest_digest"] = self.manifest.digest
        return {**digests, "image_id": self.config_digest, "platform": str(self.platform),
                "layers": len(self.layers), "config": self.target_config().to_dict()}


@dataclass(frozen=True)
class Candidate:
    descriptor: Descriptor
    name: str  # ref name annotation, "" if none
    root: str  # digest of the top entry it was found through (what a user pins)


def candidates(store: BlobStore, index: dict[str, Any], name: str = "", depth: int = 0,
               root: str = "") -> Iterator[Candidate]:
    """The image manifests an index lists, nested indexes flattened; attestations and other
    artifacts (platform unknown/unknown, foreign media types) left out."""
    if depth > MAX_INDEX_DEPTH:
        raise TargetError(f"indexes nested more than {MAX_INDEX_DEPTH} deep in {store.where}")
    entries = index.get("manifests")
    if not isinstance(entries, list) or len(entries) > MAX_INDEX_ENTRIES:
        raise TargetError(f"an index in {store.where} has no valid manifests list")
    for number, entry in enumerate(entries):
        descriptor = Descriptor.from_json(entry, f"manifest entry {number} of an index in {store.where}")
        entry_name = descriptor.annotations.get(REF_NAME, name)
        entry_root = root or descriptor.digest
        if descriptor.media_type in INDEX_TYPES:
            what = f"index {descriptor.digest}"
            nested = read_json_blob(store, descriptor, MAX_MANIFEST, what)
            yield from candidates(store, nested, entry_name, depth + 1, entry_root)
        elif descriptor.media_type in MANIFEST_TYPES and (
                descriptor.platform is None or descriptor.platform.os != "unknown"):
            yield Candidate(descriptor, entry_name, entry_root)


def choose(found: list[Candidate], where: str, wanted: Platform | None, name: str = "") -> Candidate:
    """The one manifest meant: by ref name if given, then by platform (the asked one, else this
    machine's when the index holds several)."""
    if name:
        found = [c for c in found if c.name == name]
        if not found:
            raise TargetError(f"no image named {name!r} in {where}")
    if not found:
        raise TargetError(f"no image manifest in {where}")
    platforms = sorted({str(c.descriptor.platform) for c in found if c.descriptor.platform})
    if wanted is not None or len(found) > 1:
        want = wanted or Platform.host()
        matching = [c for c in found if c.descriptor.platform is None or want.matches(c.descriptor.platform)]
        if not matching:
            raise TargetError(f"no {want} image in {where} (it has {', '.join(platforms) or 'none'}; "
                              "choose one with --platform)")
        found = matching
    names = sorted({c.name for c in found})
    if len(found) > 1 and len(names) > 1:
        raise TargetError(f"{where} holds several images ({', '.join(names)}): name one")
    return found[0]


def resolve(store: BlobStore, chosen: Candidate, digest: str, wanted: Platform | None) -> Image:
    """Read the chosen manifest and its configuration; check they agree with each other and
    with the asked platform."""
    manifest_desc = chosen.descriptor
    what = f"manifest {manifest_desc.digest}"
    manifest = read_json_blob(store, manifest_desc, MAX_MANIFEST, what)
    if manifest.get("schemaVersion") != 2:
        raise TargetError(f"{what} is not schema version 2 (schema 1 images are not supported)")
    config_desc = Descriptor.from_json(manifest.get("config"), f"the config of {what}")
    layer_list = manifest.get("layers")
    if not isinstance(layer_list, list) or len(layer_list) > MAX_LAYERS:
        raise TargetError(f"{what} has no valid layer list (at most {MAX_LAYERS} layers)")
    layers = [Descriptor.from_json(entry, f"layer {n} of {what}") for n, entry in enumerate(layer_list)]
    for layer in layers:
        if layer.media_type not in LAYER_TYPES:
            raise TargetError(f"layer {layer.digest} has media type {layer.media_type!r}, not a "
                              "filesystem layer fipscheck can read")
    if sum(layer.size for layer in layers) > MAX_LAYER_BYTES:
        raise TargetError(f"{what} declares more than {MAX_LAYER_BYTES >> 30} GiB of layers")
    return image_from_config(store, digest, manifest_desc, config_desc, layers, wanted)


def image_from_config(store: BlobStore, digest: str, manifest: Descriptor | None, config_desc: Descriptor,
                      layers: list[Descriptor], wanted: Platform | None) -> Image:
    """Read the configuration and pair its diff IDs with the layers (docker-archive's legacy
    format comes here directly, with descriptors of its own)."""
    what = f"image configuration {config_desc.digest}"
    config = read_json_blob(store, config_desc, MAX_CONFIG, what)
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if (not isinstance(diff_ids, list) or len(diff_ids) != len(layers)
            or not all(isinstance(d, str) and DIGEST.fullmatch(d) for d in diff_ids)):
        raise TargetError(f"{what} does not list one diff ID per layer ({len(layers)} layers)")
    platform = Platform.from_json(config) or (manifest.platform if manifest else None)
    if platform is None:
        raise TargetError(f"{what} names no architecture")
    if wanted is not None and not wanted.matches(platform):
        raise TargetError(f"the image in {store.where} is {platform}, not {wanted}")
    return Image(store, digest, manifest, config_desc, config,
                 tuple(Layer(d, i) for d, i in zip(layers, diff_ids, strict=True)), platform)
