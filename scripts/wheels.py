"""Build the release files of this checkout: the sdist, and from that sdist one wheel per
platform, each ``cp310-abi3`` (one wheel for every CPython from 3.10 on) and manylinux2014
(glibc 2.17 and newer):

- x86_64 with this machine's compiler;
- aarch64 cross-built with Debian's cross compiler (``gcc-aarch64-linux-gnu``, which
  ``scripts/testbed`` installs), against the arm64 build of Debian's Python headers (their
  ``pyconfig.h`` is per architecture), fetched with apt into a private apt state (this
  machine's apt configuration and dpkg database are left as they are) and kept in
  ``build/aarch64-python``.

Each wheel is then checked by ``auditwheel show`` (it must be manylinux_2_17: no glibc symbol
newer than 2.17, no library outside the policy) and tagged so by ``wheel tags``.

    python scripts/wheels.py [--out DIR] [--arch x86_64] [--arch aarch64]

prints the paths it wrote, one a line. Needs the ``test`` extra (build, auditwheel, wheel).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARCHES = ("x86_64", "aarch64")
CROSS_HEADERS = REPO / "build" / "aarch64-python"


def log(message: str) -> None:
    print(f"wheels: {message}", file=sys.stderr, flush=True)


def run(argv: list[str], **options) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, **options)


def build_sdist(out: Path) -> Path:
    run([sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(REPO)],
        stdout=subprocess.DEVNULL)
    (sdist,) = out.glob("fipscheck-*.tar.gz")
    return sdist


def build_wheel(sdist: Path, arch: str, out: Path) -> Path:
    """The manylinux2014 wheel of ``arch`` built from the unpacked sdist, written to ``out``."""
    with tempfile.TemporaryDirectory(prefix="fipscheck-wheel-") as scratch:
        with tarfile.open(sdist) as archive:
            archive.extractall(scratch, filter="data")
        (source,) = Path(scratch).glob("fipscheck-*/")
        built = Path(scratch) / "dist"
        cross = arch != native_arch()
        env = dict(os.environ, **(cross_environment(arch) if cross else {}))
        # The platform tag of a cross build (the isolated build environment's own packages are
        # still this machine's); manylinux2014() below makes it manylinux2014's.
        tag = [f"-C--build-option=--plat-name=linux_{arch}"] if cross else []
        run([sys.executable, "-m", "build", "--wheel", *tag, "--outdir", str(built), str(source)],
            env=env, stdout=subprocess.DEVNULL)
        (wheel,) = built.glob("*.whl")
        return manylinux2014(wheel, arch, out)


def manylinux2014(wheel: Path, arch: str, out: Path) -> Path:
    """The wheel retagged manylinux2014 into ``out``, once auditwheel found it fits that policy
    (glibc symbol versions up to 2.17, only the policy's system libraries). ``auditwheel repair``
    would do the same here (it has nothing to graft) but repairs only wheels of this machine's
    architecture."""
    bin_dir = Path(sys.executable).parent
    shown = json.loads(run([str(bin_dir / "auditwheel"), "show", "--json", str(wheel)],
                           capture_output=True, text=True).stdout)
    if shown["overall_tag"] != f"manylinux_2_17_{arch}":
        raise SystemExit(f"wheels: auditwheel finds {wheel.name} is {shown['overall_tag']}, not "
                         f"manylinux_2_17_{arch}: {json.dumps(shown)}")
    tagged = run([str(bin_dir / "wheel"), "tags", "--remove", "--platform-tag",
                  f"manylinux_2_17_{arch}.manylinux2014_{arch}", str(wheel)],
                 capture_output=True, text=True).stdout.strip()  # the new file's name
    return Path(shutil.move(wheel.parent / tagged, out / tagged))


def native_arch() -> str:
    return os.uname().machine


def cross_environment(arch: str) -> dict[str, str]:
    """What makes setuptools (and native/Makefile, through setup.py) build for ``arch``."""
    if arch != "aarch64" or native_arch() != "x86_64":
        raise SystemExit(f"wheels: no cross build for {arch} on {native_arch()}")
    compiler = f"{arch}-linux-gnu-gcc"
    if shutil.which(compiler) is None:
        raise SystemExit(f"wheels: {compiler} is missing (scripts/testbed setup installs it)")
    include = arm64_python_headers()
    # CPPFLAGS, not CFLAGS: native/Makefile takes CFLAGS (its -O2 -g) from the environment
    return {"CC": compiler, "LDSHARED": f"{compiler} -shared",
            "CPPFLAGS": f"-I{include}/python{python_headers_version(include)} -I{include}"}


def python_headers_version(include: Path) -> str:
    (found,) = (p.name.removeprefix("python") for p in include.glob("python3.*") if p.is_dir())
    return found


def arm64_python_headers() -> Path:
    """``usr/include`` of Debian's libpython3.X-dev for arm64 (this release's default Python),
    downloaded once with apt into a private state directory and unpacked."""
    include = CROSS_HEADERS / "usr" / "include"
    if (include / "aarch64-linux-gnu").is_dir():
        return include
    state = CROSS_HEADERS.with_name("aarch64-apt")
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    apt = ["-o", "APT::Architecture=arm64", "-o", "APT::Architectures::=arm64",
           "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::State::status={state / 'status'}",
           "-o", f"Dir::Cache={state / 'cache'}", "-o", "APT::Sandbox::User=root", "-q"]
    log("fetching Debian's arm64 Python headers (libpython3-dev) for the aarch64 cross build")
    run(["apt-get", *apt, "update"], stdout=subprocess.DEVNULL)
    shown = run(["apt-cache", *apt, "show", "libpython3-dev"], capture_output=True, text=True).stdout
    package = re.search(r"^Depends:.*?\b(libpython3\.\d+-dev)\b", shown, re.M)
    if package is None:
        raise SystemExit("wheels: libpython3-dev for arm64 names no libpython3.X-dev")
    run(["apt-get", *apt, "download", f"{package.group(1)}:arm64"], cwd=state, stdout=subprocess.DEVNULL)
    (deb,) = state.glob(f"{package.group(1)}_*_arm64.deb")
    run(["dpkg-deb", "-x", str(deb), str(CROSS_HEADERS)])
    shutil.rmtree(state)
    return include


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="where to write (default: dist/)")
    parser.add_argument("--arch", action="append", choices=ARCHES, help="default: both")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sdist = build_sdist(args.out)
    print(sdist)
    for arch in args.arch or ARCHES:
        log(f"building the {arch} wheel from {sdist.name}")
        print(build_wheel(sdist, arch, args.out))


if __name__ == "__main__":
    main()
