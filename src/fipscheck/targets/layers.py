"""An image's filesystem from its layers: each blob streamed from its store, its digest
verified, decompressed (gzip, zstd or none, told by its magic bytes as an engine's
``DecompressStream`` tells them), its uncompressed digest checked against the configuration's
diff ID, and applied in order by the safe extractor (whiteouts, opaque directories, hard links).
Nothing is written outside the root, and an image whose blobs do not match fails as a whole."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any, BinaryIO, cast

from ..errors import TargetError
from .export import Extraction, ExtractStats
from .oci import Image, Layer, VerifiedReader

# Which import mypy finds depends on the Python version (and the extra): hence unused-ignore.
try:  # Python 3.14 has zstd in the standard library; before it, the backport (fipscheck[zstd])
    from compression import zstd  # type: ignore[import-not-found, unused-ignore]
except ImportError:
    try:
        from backports import zstd  # type: ignore[import-not-found, no-redef, unused-ignore]
    except ImportError:
        zstd = None  # type: ignore[assignment, unused-ignore]

# what a corrupt compressed stream or tar raises
CORRUPT = (OSError, EOFError, ValueError, tarfile.TarError, *((zstd.ZstdError,) if zstd else ()))
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BUFFER = 1 << 20


def decompressed(stream: io.BufferedReader[Any], what: str) -> BinaryIO:
    """The uncompressed bytes of a layer, whatever its compression (GzipFile and ZstdFile are
    binary file objects, though not typing.BinaryIO by name)."""
    magic = stream.peek(4)[:4]
    if magic.startswith(GZIP_MAGIC):
        return cast(BinaryIO, gzip.GzipFile(fileobj=stream, mode="rb"))
    if magic == ZSTD_MAGIC:
        if zstd is None:
            raise TargetError(f"{what} is zstd-compressed: install fipscheck[zstd] (backports.zstd) "
                              "to read it")
        return cast(BinaryIO, zstd.ZstdFile(stream, mode="rb"))
    return stream


def apply_layer(extraction: Extraction, image: Image, number: int, layer: Layer) -> None:
    what = f"layer {number + 1} ({layer.descriptor.digest[:19]})"
    with image.store.open(layer.descriptor) as raw:
        blob = VerifiedReader(raw, layer.descriptor.digest, layer.descriptor.size, what)
        try:
            inner = decompressed(io.BufferedReader(blob, BUFFER), what)
            tar = VerifiedReader(inner, layer.diff_id, None, f"{what}, uncompressed,")
            extraction.add(io.BufferedReader(tar, BUFFER), layer=True)
            tar.drain()
            blob.drain()
        except CORRUPT as error:
            raise TargetError(f"{what} cannot be read: {error}") from None


def apply_layers(image: Image, dest: Path) -> ExtractStats:
    """Unpack every layer of ``image`` into the empty directory ``dest``."""
    extraction = Extraction(dest)
    for number, layer in enumerate(image.layers):
        apply_layer(extraction, image, number, layer)
    return extraction.stats
