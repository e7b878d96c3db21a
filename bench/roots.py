"""What the benchmarks run on, made once and reused while their inputs are unchanged.

- ``fipscheck-bench/go-builder``: a trixie image with Debian's Go 1.24 toolchain and
  build-essential in which check-payload (the benchmark peer, from
  ``/work/shared/thirdparty/check-payload-*.tar.gz``) is built offline; the image itself,
  about 1.2 GiB, is the "large Go builder image" of the benchmarks. The peer's
  binary is copied out to the bench directory; nothing of it is shipped.
- Reference roots: ``docker export`` of an image, unpacked by fipscheck's safe extractor.
- Synthetic roots of N files: the openssl-fips reference root plus directories of hard links
  to real ELF files (every ELF object of that root, copied once with exec bits so that
  check-payload, which reads only executable files, reads them all too) and a few text files.
  Hard links keep a 200k-file root under a few MiB of disk.

Everything lives under the bench directory (``$FIPSCHECK_BENCH_DIR``, default
``/var/tmp/fipscheck-bench``); a marker file per root records the inputs it was made from.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import docker
from docker.errors import BuildError, ImageNotFound

from fipscheck.elf import MAGIC
from fipscheck.targets.export import extract

BENCH_DIR = Path(os.environ.get("FIPSCHECK_BENCH_DIR", "/var/tmp/fipscheck-bench"))
THIRDPARTY = Path(os.environ.get("FIPSCHECK_THIRDPARTY", "/work/shared/thirdparty"))
BUILDER = "fipscheck-bench/go-builder:latest"
INPUTS_LABEL = "org.fipscheck.inputs"
REFERENCE = "fipscheck/openssl-fips:latest"
PER_DIR = 500  # files per synthetic directory (fewer than the ELF objects of the pool)
TEXT_SHARE = 12  # one file in TEXT_SHARE of a synthetic root is not ELF (as in the issue: 46k of 50k)

BUILDER_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y golang-1.24-go build-essential git \\
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/go-1.24/bin:$PATH GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=vendor
COPY check-payload.tar.gz /src/
RUN cd /src && tar xzf check-payload.tar.gz && rm check-payload.tar.gz \\
 && cd check-payload && CGO_ENABLED=0 go build -o /usr/local/bin/check-payload . \\
 && go clean -cache
"""


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def client() -> docker.DockerClient:
    return docker.from_env(timeout=3600)


def _peer_source() -> Path:
    found = sorted(glob.glob(str(THIRDPARTY / "check-payload-*.tar.gz")))
    if not found:
        raise SystemExit(f"bench: no check-payload-*.tar.gz in {THIRDPARTY}")
    return Path(found[-1])


def go_builder(engine: docker.DockerClient) -> str:
    """The builder image (built when its inputs changed); returns its ID."""
    source = _peer_source()
    base = engine.images.get("fipscheck-base:trixie")
    inputs = hashlib.sha256(BUILDER_DOCKERFILE.encode() + base.id.encode()
                            + source.read_bytes()).hexdigest()
    try:
        image = engine.images.get(BUILDER)
        if image.labels.get(INPUTS_LABEL) == inputs:
            return image.id
    except ImageNotFound:
        pass
    log(f"building {BUILDER} (Go 1.24, check-payload from {source.name}); once")
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", BUILDER_DOCKERFILE.encode()),
                           ("check-payload.tar.gz", source.read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    try:
        image, _ = engine.images.build(fileobj=context, custom_context=True, tag=BUILDER,
                                       network_mode="host", rm=True, forcerm=True,
                                       buildargs={"BASE_IMAGE": base.id},
                                       labels={INPUTS_LABEL: inputs})
    except BuildError as error:
        for chunk in error.build_log:
            sys.stderr.write(chunk.get("stream", "") or chunk.get("error", "") or "")
        raise SystemExit(f"bench: building {BUILDER} failed: {error.msg}") from None
    return image.id


def check_payload(engine: docker.DockerClient) -> Path:
    """The peer's binary, copied out of the builder image (a static Go program)."""
    image_id = go_builder(engine)
    binary = BENCH_DIR / f"check-payload-{image_id.split(':')[-1][:12]}"
    if binary.is_file():
        return binary
    container = engine.containers.create(image_id, entrypoint=["true"], network_mode="none")
    try:
        stream, _ = container.get_archive("/usr/local/bin/check-payload")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile("check-payload")
            assert member is not None
            BENCH_DIR.mkdir(parents=True, exist_ok=True)
            binary.write_bytes(member.read())
    finally:
        container.remove(force=True)
    binary.chmod(0o755)
    return binary


def _marker(root: Path) -> Path:
    return root.with_name(root.name + ".made-from")


def image_root(engine: docker.DockerClient, image: str) -> Path:
    """The image's filesystem unpacked under the bench directory (remade when the image
    changed)."""
    image_id = engine.images.get(image).id
    root = BENCH_DIR / ("root-" + image.split("/")[-1].replace(":", "-"))
    if _marker(root).is_file() and _marker(root).read_text() == image_id:
        return root
    log(f"unpacking {image} into {root}")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    container = engine.containers.create(image_id, entrypoint=["true"], network_mode="none")
    try:
        extract(container.export(), root)
    finally:
        container.remove(force=True)
    _marker(root).write_text(image_id)
    return root


def _elf_pool(reference: Path) -> list[Path]:
    """Executable copies of every ELF object of the reference root, made once."""
    pool = reference.with_name(reference.name + "-elf-pool")
    if not pool.is_dir():
        staging = Path(tempfile.mkdtemp(dir=BENCH_DIR))
        for n, path in enumerate(p for p in sorted(reference.rglob("*"))
                                 if p.is_file() and not p.is_symlink() and _is_elf(p)):
            target = staging / f"{n:04d}" / path.name
            target.parent.mkdir()
            shutil.copyfile(path, target)
            target.chmod(0o755)
        staging.rename(pool)
    return sorted(pool.glob("*/*"))


def _is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == MAGIC


def synthetic_root(engine: docker.DockerClient, files: int) -> Path:
    """The reference root with hard links to real ELF objects (and some text files) added
    until it holds ``files`` regular files."""
    reference = image_root(engine, REFERENCE)
    made_from = f"{_marker(reference).read_text()} {files} {PER_DIR} {TEXT_SHARE}"
    root = BENCH_DIR / f"root-synthetic-{files // 1000}k"
    if _marker(root).is_file() and _marker(root).read_text() == made_from:
        return root
    log(f"making {root} ({files} files, hard links to the reference root's ELF objects)")
    pool = _elf_pool(reference)
    text = BENCH_DIR / "synthetic-text"
    text.write_text("a text file of a synthetic root\n" * 64)
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(reference, root, symlinks=True, copy_function=os.link)
    have = sum(1 for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    for n in range(max(files - have, 0)):
        directory = root / "usr/lib/synthetic" / f"d{n // PER_DIR:04d}"
        if n % PER_DIR == 0:
            directory.mkdir(parents=True)
        if n % TEXT_SHARE == TEXT_SHARE - 1:
            os.link(text, directory / f"notes-{n}.txt")
        else:
            source = pool[n % len(pool)]
            name = source.name if not (directory / source.name).exists() else f"{n}-{source.name}"
            os.link(source, directory / name)
    _marker(root).write_text(made_from)
    return root
