"""Native parts of the build (everything else is in pyproject.toml): the cffi extension
fipscheck._native, and the standalone fips-startup-check and fipscheck-helper.ARCH, built with
native/Makefile and shipped as package data in fipscheck/bin/ (fipscheck.native.executable_path(),
helper_path()), with a fips-startup-check for each other architecture a cross compiler is
installed for in fipscheck/bin/<arch>/ (copied into targets of that architecture: an arm64 host
reached over ssh, an arm64 image's container)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

# Architectures the standalone is cross-built for (native/Makefile's `cross` target), with
# Debian's cross compilers: gcc-aarch64-linux-gnu, gcc-x86-64-linux-gnu.
CROSS_ARCHES = ("x86_64", "aarch64")


class BuildExtAndStandalone(build_ext):
    def run(self) -> None:
        super().run()
        package_dir = Path(self.get_ext_fullpath("fipscheck._native")).resolve().parent
        executable = package_dir / "bin" / "fips-startup-check"
        executable.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["make", "-C", "native", f"OUT={executable}", f"HELPER_DIR={executable.parent}"],
                       check=True)
        compiler = os.environ.get("CC", "cc").split()  # as make takes it (CC ?= cc)
        own = subprocess.run([*compiler, "-dumpmachine"], check=True, capture_output=True,
                             text=True).stdout.split("-")[0]
        for arch in CROSS_ARCHES:
            if arch == own:
                continue
            if shutil.which(f"{arch}-linux-gnu-gcc") is None:
                print(f"fipscheck: no {arch}-linux-gnu-gcc: the package has no fips-startup-check "
                      f"for {arch} targets", file=sys.stderr)
                continue
            cross = executable.parent / arch / "fips-startup-check"
            cross.parent.mkdir(exist_ok=True)
            subprocess.run(["make", "-C", "native", "cross", f"ARCH={arch}", f"OUT={cross}"],
                           check=True)


setup(cffi_modules=["native/ffi_build.py:ffibuilder"], cmdclass={"build_ext": BuildExtAndStandalone})
