"""Images in files: an OCI image layout in a directory (``oci-dir:``) or in a tar archive
(``oci-archive:``), and ``docker save`` output (``docker-archive:``), in its legacy form
(``manifest.json`` naming a configuration and layer tars) or the OCI layout Docker 25 and later
write beside it. The files are the target: paths inside a layout are resolved inside it, links
in an archive only to members of it, and every blob is verified before it is used."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import BinaryIO

from ..errors import EvidenceError, TargetError
from ..fs import RootFilesystem
from .export import MAX_BYTES
from .layers import CORRUPT, decompressed
from .oci import (
    DIGEST,
    MAX_LAYERS,
    MAX_MANIFEST,
    Descriptor,
    Image,
    Platform,
    candidates,
    choose,
    image_from_config,
    json_object,
    load_json,
    resolve,
)

PATH = "org.fipscheck.archive.path"  # where a legacy archive keeps a blob
MAX_MEMBERS = 100_000  # members of an image archive (blobs, not the files of the image)
LEGACY_LAYER = "application/vnd.docker.image.rootfs.diff.tar"  # compression told by magic


def split_selector(spec: str) -> tuple[str, str]:
    """``PATH`` or ``PATH:NAME``: the path is the longest prefix that exists (paths may hold
    colons), the rest names one image of several (a tag in a ``docker save`` archive, a ref
    name in an OCI layout)."""
    if os.path.lexists(spec):
        return spec, ""
    for at in [i for i, c in enumerate(spec) if c == ":"][::-1]:
        if os.path.lexists(spec[:at]):
            return spec[:at], spec[at + 1:]
    raise TargetError(f"no such file or directory: {spec}")


class DirectoryStore:
    """An OCI image layout in a directory; names resolve inside it (fs.RootFilesystem)."""

    def __init__(self, directory: str) -> None:
        self.where = directory
        try:
            self._fs = RootFilesystem(directory)
        except EvidenceError as error:
            raise TargetError(str(error)) from None

    def read(self, name: str, limit: int) -> bytes:
        try:
            with self._fs.open(name) as f:
                return f.read(limit + 1)
        except (OSError, EvidenceError) as error:
            raise TargetError(f"cannot read {name} in {self.where}: {error}") from None

    def close(self) -> None:
        """Nothing is held open between reads."""

    def open(self, descriptor: Descriptor) -> BinaryIO:
        try:
            return self._fs.open(descriptor.path)
        except (OSError, EvidenceError) as error:
            raise TargetError(f"blob {descriptor.digest} is missing in {self.where}: {error}") from None


class TarStore:
    """A tar archive read in place (or, when compressed as ``docker save | gzip`` makes it,
    once decompressed into ``scratch``): members by name, links followed only to members."""

    def __init__(self, path: str, scratch: Path) -> None:
        self.where = path
        try:
            self._tar = tarfile.open(_uncompressed(path, scratch), mode="r:")  # noqa: SIM115 - see close()
        except CORRUPT as error:
            raise TargetError(f"{path} is not a readable tar archive: {error}") from None
        self._members: dict[str, tarfile.TarInfo] = {}
        for count, member in enumerate(self._tar, 1):
            if count > MAX_MEMBERS:
                raise TargetError(f"{path} has more than {MAX_MEMBERS} members")
            self._members[os.path.normpath(member.name).lstrip("/")] = member
        # the index above is ours; tarfile need not keep its own (typeshed omits this attribute)
        self._tar.members = []  # type: ignore[attr-defined]

    def close(self) -> None:
        self._tar.close()

    def member(self, name: str) -> tarfile.TarInfo:
        member = self._members.get(os.path.normpath(name).lstrip("/"))
        for _ in range(8):  # symlinks between members (Docker's layer.tar -> blobs/...)
            if member is None or not member.issym():
                break
            target = os.path.normpath(os.path.join(os.path.dirname(member.name), member.linkname))
            member = self._members.get(target.lstrip("/"))
        if member is not None and member.islnk():
            member = self._members.get(os.path.normpath(member.linkname).lstrip("/"))
        if member is None or not member.isreg():
            raise TargetError(f"{name} is not a file in {self.where}")
        return member

    def exists(self, name: str) -> bool:
        try:
            self.member(name)
        except TargetError:
            return False
        return True

    def read(self, name: str, limit: int) -> bytes:
        return self.open_member(name).read(limit + 1)

    def open_member(self, name: str) -> BinaryIO:
        source = self._tar.extractfile(self.member(name))
        assert source is not None  # a regular member always has content
        return source  # type: ignore[return-value]

    def open(self, descriptor: Descriptor) -> BinaryIO:
        return self.open_member(descriptor.path)


Store = DirectoryStore | TarStore


def _uncompressed(path: str, scratch: Path) -> str:
    """The archive itself if it is a plain tar, else a decompressed copy (random access into
    a compressed stream would decompress it again for every member read)."""
    with open(path, "rb") as raw:
        buffered = io.BufferedReader(raw, 1 << 20)
        inner = decompressed(buffered, path)
        if inner is buffered:
            return path
        copy = scratch / "archive.tar"
        copied = 0
        with open(copy, "wb") as out:
            while chunk := inner.read(1 << 20):
                copied += len(chunk)
                if copied > MAX_BYTES:
                    raise TargetError(f"{path} decompresses to more than {MAX_BYTES >> 30} GiB")
                out.write(chunk)
    return str(copy)


def open_layout(store: Store, name: str, wanted: Platform | None) -> Image:
    """The image of an OCI image layout: ``index.json`` lists it (maybe through a nested
    index, one manifest per platform, named by ``org.opencontainers.image.ref.name``)."""
    index = json_object(load_json(store.read("index.json", MAX_MANIFEST), MAX_MANIFEST,
                                  f"index.json of {store.where}"), "index.json")
    chosen = choose(list(candidates(store, index)), store.where, wanted, name)
    return resolve(store, chosen, chosen.root, wanted)


def open_docker_archive(store: TarStore, name: str, wanted: Platform | None) -> Image:
    """``docker save`` output: Docker 25 and later write an OCI layout (read as one); before,
    ``manifest.json`` names the configuration (``<image ID>.json``) and the layer tars,
    verified by the configuration's diff IDs."""
    if store.exists("index.json") and store.exists("oci-layout"):
        return open_layout(store, name, wanted)
    what = f"manifest.json of {store.where}"
    entries = load_json(store.read("manifest.json", MAX_MANIFEST), MAX_MANIFEST, what)
    if not isinstance(entries, list) or not entries:
        raise TargetError(f"manifest.json of {store.where} lists no image")
    entries = [json_object(e, "an entry of manifest.json") for e in entries]
    if name:
        entries = [e for e in entries if name in (e.get("RepoTags") or [])]
        if not entries:
            raise TargetError(f"no image tagged {name!r} in {store.where}")
    elif len(entries) > 1:
        tags = [t for e in entries for t in e.get("RepoTags") or []]
        raise TargetError(f"{store.where} holds {len(entries)} images: name one ({', '.join(tags)})")
    entry = entries[0]
    config_name, layer_names = entry.get("Config"), entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list) or len(layer_names) > MAX_LAYERS:
        raise TargetError(f"manifest.json of {store.where} has no valid Config and Layers")
    legacy = _LegacyStore(store, config_name, [str(n) for n in layer_names])
    return image_from_config(legacy, "", None, legacy.config, legacy.layers, wanted)


class _LegacyStore:
    """The files of a legacy ``docker save`` entry as descriptors: the configuration's file is
    named by its digest (the image ID); a layer tar has no digest of its own (it is verified by
    its diff ID once uncompressed), so its descriptor carries its path in the archive."""

    def __init__(self, tar: TarStore, config_name: str, layer_names: list[str]) -> None:
        self.where, self._tar = tar.where, tar
        stem = os.path.basename(config_name).removesuffix(".json")
        digest = stem if ":" in stem else f"sha256:{stem}"
        if not DIGEST.fullmatch(digest):
            raise TargetError(f"the configuration {config_name} of {tar.where} is not named by its digest")
        self.config = self._descriptor(digest, config_name)
        self.layers = [self._descriptor("", name) for name in layer_names]

    def _descriptor(self, digest: str, name: str) -> Descriptor:
        return Descriptor(LEGACY_LAYER, digest, self._tar.member(name).size, annotations={PATH: name})

    def open(self, descriptor: Descriptor) -> BinaryIO:
        return self._tar.open_member(descriptor.annotations[PATH])

    def close(self) -> None:
        self._tar.close()
