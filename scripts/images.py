"""Build the test bed's images: Debian base images made locally with debootstrap (nothing can be
pulled here) and the reference images described by ``dockerfiles/*/images.toml``.

Each reference directory holds a Dockerfile (taking ``ARG BASE_IMAGE``) and an ``images.toml``:

    base = "trixie"                 # BASE_IMAGE: a local Debian suite, or another reference image
    context = "."                   # build context relative to the repository (default: the dir)
    inputs = ["native"]             # extra paths whose content decides a rebuild
    wheels = ["cryptography==50.0.2"]  # PyPI wheels fetched on the host into <dir>/wheels/
    [args]                          # more build args naming images, as base does
    DEBIAN_IMAGE = "trixie"
    [images]
    "fipscheck/openssl-fips:latest" = "openssl-fips"     # image name = Dockerfile target

An image is rebuilt only when the hash of its inputs (the directory, the extra inputs, the
IDs of the base image and of the images named in ``[args]``, the target) differs from the hash
recorded in its label.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
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
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="reference directories to build (default: all)")
    args = parser.parse_args()
    if shutil.which("debootstrap") is None:
        raise SystemExit("images: debootstrap is missing (scripts/testbed setup installs it)")
    client = docker.from_env(timeout=600)
    for suite in SUITES:
        ensure_base(client, suite)
    specs = {toml.parent: tomllib.loads(toml.read_text())
             for toml in sorted(REPO.glob("dockerfiles/*/images.toml"))}
    producer = {name: directory for directory, spec in specs.items() for name in spec["images"]}
    done: set[Path] = set()

    def build_dir(directory: Path) -> None:
        if directory in done:
            return
        done.add(directory)
        spec = specs[directory]
        for used in [spec["base"], *spec.get("args", {}).values()]:
            if used in producer:  # built on another reference image: build that first
                build_dir(producer[used])
        fetch_wheels(directory, spec)
        for name, target in spec["images"].items():
            build(client, directory, spec, name, target)

    for directory in specs:
        if not args.only or directory.name in args.only:
            build_dir(directory)


if __name__ == "__main__":
    main()
