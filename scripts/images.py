"""Build the test bed's images: Debian base images made locally with debootstrap (nothing can be
pulled here) and the reference images described by ``dockerfiles/*/images.toml``.

Each reference directory holds a Dockerfile (taking ``ARG BASE_IMAGE``) and an ``images.toml``:

    base = "trixie"                 # BASE_IMAGE: a local Debian suite, or another reference image
    context = "."                   # build context relative to the repository (default: the dir)
    inputs = ["native"]             # extra paths whose content decides a rebuild
    wheels = ["cryptography==50.0.2"]  # PyPI wheels fetched on the host into <dir>/wheels/
    thirdparty = { "x-1.0.tar.gz" = "sha256:..." }  # copied into <dir>/thirdparty/, checked
    [args]                          # more build args naming images, as base does
    DEBIAN_IMAGE = "trixie"
    builder = true                  # a builder image (a toolchain), not a reference image
    [images]
    "fipscheck/openssl-fips:latest" = "openssl-fips"     # image name = Dockerfile target

An image is rebuilt only when the hash of its inputs (the directory, the extra inputs, the
IDs of the base image and of the images named in ``[args]``, the target) differs from the hash
recorded in its label. ``--only IMAGE`` builds that image and what it is built on, nothing
else (the base suites included); without it, every image is built.

Third-party sources (``thirdparty``) come from ``$FIPSCHECK_THIRDPARTY``, else
``../shared/thirdparty`` beside the repository, else ``/work/shared/thirdparty``; each must
have the pinned SHA-256.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import tomllib
from docker.errors import BuildError, ImageNotFound

REPO = Path(__file__).resolve().parent.parent
SUITES = ("trixie", "bookworm", "bullseye")
INPUTS_LABEL = "org.fipscheck.inputs"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
THIRDPARTY_DIRS = (REPO.parent / "shared" / "thirdparty", Path("/work/shared/thirdparty"))


def base_image(base: str) -> str:
    """``trixie`` names the local Debian base; anything with a ``:`` is an image name."""
    return base if ":" in base else f"fipscheck-base:{base}"


def log(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


def apt_mirror() -> str:
    """The Debian mirror this machine's own apt uses (deb822 ``URIs:`` or one-line ``deb``)."""
    sources = [*sorted(glob.glob("/etc/apt/sources.list.d/*.sources")), "/etc/apt/sources.list"]
    texts = [Path(p).read_text(errors="replace") for p in sources if Path(p).is_file()]
    for text in texts:
        for uri in re.findall(r"^URIs:\s*(\S+)", text, re.M) + re.findall(
                r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    return DEFAULT_MIRROR


def ensure_base(client: docker.DockerClient, suite: str) -> None:
    name = base_image(suite)
    try:
        client.images.get(name)
        return
    except ImageNotFound:
        pass
    mirror = apt_mirror()
    log(f"debootstrap {suite} from {mirror} -> {name}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"fipscheck-{suite}-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "root"
        subprocess.run(["debootstrap", "--variant=minbase", suite, str(root), mirror],
                       check=True, stdout=subprocess.DEVNULL)
        tar = subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-c", "."],
                             check=True, stdout=subprocess.PIPE).stdout
        client.api.import_image_from_data(
            tar, repository=name.split(":")[0], tag=suite,
            changes=['CMD ["/bin/bash"]', f"LABEL org.fipscheck.base={suite}"])
    log(f"{name} made in {time.monotonic() - started:.0f} s")


def image_args(spec: dict) -> dict[str, str]:
    """Build args naming images: BASE_IMAGE from ``base``, the others from ``[args]``."""
    named = {"BASE_IMAGE": spec["base"], **spec.get("args", {})}
    return {arg: base_image(value) for arg, value in named.items()}


def inputs_hash(directory: Path, spec: dict, image_ids: list[str], target: str) -> str:
    digest = hashlib.sha256("\0".join([*image_ids, target, ""]).encode())
    roots = [directory] + [REPO / extra for extra in spec.get("inputs", [])]
    for root in roots:
        files = [root] if root.is_file() else _source_files(root)
        for path in files:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _source_files(root: Path) -> list[Path]:
    """The files below ``root`` that are sources: in a git checkout those git tracks or would
    (not ignored), so that build products (native/fips-startup-check-asan) do not change an
    image's inputs; elsewhere (an sdist) every file."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard", "--", str(root.relative_to(REPO))],
                            capture_output=True)
    if listed.returncode != 0:
        return sorted(p for p in root.rglob("*") if p.is_file())
    return sorted(REPO / name for name in set(listed.stdout.decode().split("\0")) if name
                  and (REPO / name).is_file())


def fetch_wheels(directory: Path, spec: dict) -> None:
    """Download the pinned wheels with the host's pip: it has this machine's PyPI access
    (mirror, proxy, CA), which a build container does not."""
    have = {p.name for p in (directory / "wheels").glob("*.whl")}
    wanted = [pin for pin in spec.get("wheels", [])  # "name==version" -> name_version-*.whl
              if not any(n.startswith(pin.replace("-", "_").replace("==", "-") + "-") for n in have)]
    if not wanted:
        return
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", "--platform", "manylinux2014_x86_64",
                    "--platform", "manylinux_2_34_x86_64", "--python-version", "3.11",
                    "--dest", str(directory / "wheels"), *wanted], check=True)


def thirdparty_source() -> Path:
    override = os.environ.get("FIPSCHECK_THIRDPARTY")
    candidates = [Path(override)] if override else list(THIRDPARTY_DIRS)
    found = next((d for d in candidates if d.is_dir()), None)
    if found is None:
        raise SystemExit("images: no third-party source directory (set FIPSCHECK_THIRDPARTY; "
                         f"looked in {', '.join(map(str, candidates))})")
    return found


def copy_thirdparty(directory: Path, spec: dict) -> None:
    """Copy the pinned third-party files into the build context, each checked against its
    SHA-256 (a file already there and matching is kept)."""
    for name, pinned in spec.get("thirdparty", {}).items():
        target = directory / "thirdparty" / name
        if target.is_file() and _sha256(target) == pinned:
            continue
        source = thirdparty_source() / name
        if not source.is_file():
            raise SystemExit(f"images: {source} is missing")
        if _sha256(source) != pinned:
            raise SystemExit(f"images: {source} does not have the pinned {pinned}")
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def build(client: docker.DockerClient, directory: Path, spec: dict, name: str, target: str) -> None:
    buildargs = image_args(spec)
    wanted = inputs_hash(directory, spec, [client.images.get(i).id for i in buildargs.values()],
                         target)
    try:
        if client.images.get(name).labels.get(INPUTS_LABEL) == wanted:
            return
    except ImageNotFound:
        pass
    context = REPO / spec.get("context", str(directory.relative_to(REPO)))
    log(f"building {name} (target {target}) from {directory.relative_to(REPO)}")
    started = time.monotonic()
    try:
        client.images.build(
            path=str(context), dockerfile=str((directory / "Dockerfile").relative_to(context)),
            tag=name, target=target, network_mode="host", rm=True, forcerm=True,
            buildargs=buildargs, labels={INPUTS_LABEL: wanted})
    except BuildError as error:
        for chunk in error.build_log:
            sys.stderr.write(chunk.get("stream", "") or chunk.get("error", "") or "")
        raise SystemExit(f"images: building {name} failed: {error.msg}") from None
    log(f"{name} built in {time.monotonic() - started:.0f} s")


def suites_used(directory: Path, spec: dict) -> set[str]:
    """The local Debian bases a reference directory builds on: in its spec, or named in its
    Dockerfile (``FROM fipscheck-base:bullseye`` in a builder stage)."""
    named = {v for v in [spec["base"], *spec.get("args", {}).values()] if ":" not in v}
    dockerfile = (directory / "Dockerfile").read_text()
    return named | {s for s in SUITES if base_image(s) in dockerfile}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", help="reference directories to build (default: all)")
    parser.add_argument("--only", action="append", default=[], metavar="IMAGE",
                        help="build only this image and the images it is built on (repeatable)")
    args = parser.parse_args()
    if shutil.which("debootstrap") is None:
        raise SystemExit("images: debootstrap is missing (scripts/testbed setup installs it)")
    specs = {toml.parent: tomllib.loads(toml.read_text())
             for toml in sorted(REPO.glob("dockerfiles/*/images.toml"))}
    producer = {name: directory for directory, spec in specs.items() for name in spec["images"]}
    unknown = [name for name in args.only if name not in producer]
    if unknown:
        raise SystemExit(f"images: no reference image {', '.join(unknown)} in dockerfiles/")
    wanted = [name for name in producer
              if name in args.only or producer[name].name in args.dirs
              or not (args.only or args.dirs)]
    order: list[str] = []

    def add(name: str) -> None:  # the images it is built on first
        if name in order:
            return
        spec = specs[producer[name]]
        for used in [spec["base"], *spec.get("args", {}).values()]:
            if used in producer:
                add(used)
        order.append(name)

    for name in wanted:
        add(name)
    client = docker.from_env(timeout=600)
    suites = set().union(*(suites_used(producer[n], specs[producer[n]]) for n in order))
    for suite in SUITES if not (args.only or args.dirs) else sorted(suites):  # tests use all three
        ensure_base(client, suite)
    for name in order:
        directory = producer[name]
        spec = specs[directory]
        fetch_wheels(directory, spec)
        copy_thirdparty(directory, spec)
        build(client, directory, spec, name, spec["images"][name])


if __name__ == "__main__":
    main()
