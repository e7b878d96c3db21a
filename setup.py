"""Native parts of the build (everything else is in pyproject.toml): the cffi extension
fipscheck._native, and the standalone fips-startup-check and fipscheck-helper.ARCH, built with
native/Makefile and shipped as package data in fipscheck/bin/ (fipscheck.native.executable_path(),
helper_path()), with a fips-startup-check for each other architecture a cross compiler is
installed for in fipscheck/bin/<arch>/ (copied into targets of that architecture: an arm64 host
reached over ssh, an arm64 image's container).

One wheel serves every CPython from 3.10 on (``cp310-abi3``: cffi builds the extension on the
limited API), and every glibc from 2.17 on (manylinux2014): the extension pins its glibc symbol
versions as the standalone does (FSC_PIN_GLIBC, native/ffi_build.py) and carries no RUNPATH.
A cross build (``CC=aarch64-linux-gnu-gcc``) builds everything for the compiler's machine;
scripts/wheels.py builds and checks both wheels."""

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
    def build_extensions(self) -> None:
        # A Python built with --enable-shared (pyenv's, say) puts -Wl,-rpath,<its lib dir> into
        # the link command sysconfig gives: a directory of the build machine, which the
        # extension (it links no libpython) must not carry into users' machines as a RUNPATH.
        self.compiler.linker_so = [arg for arg in self.compiler.linker_so
                                   if not arg.startswith(("-Wl,-rpath", "-Wl,-R", "-R"))]
        super().build_extensions()

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


setup(cffi_modules=["native/ffi_build.py:ffibuilder"], cmdclass={"build_ext": BuildExtAndStandalone},
      options={"bdist_wheel": {"py_limited_api": "cp310"}})
