"""Native parts of the build (everything else is in pyproject.toml): the cffi extension
fipscheck._native, and the standalone fips-startup-check and fipscheck-helper.ARCH, built with
native/Makefile and shipped as package data in fipscheck/bin/ (fipscheck.native.executable_path(),
helper_path())."""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExtAndStandalone(build_ext):
    def run(self) -> None:
        super().run()
        package_dir = Path(self.get_ext_fullpath("fipscheck._native")).resolve().parent
        executable = package_dir / "bin" / "fips-startup-check"
        executable.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["make", "-C", "native", f"OUT={executable}", f"HELPER_DIR={executable.parent}"],
                       check=True)


setup(cffi_modules=["native/ffi_build.py:ffibuilder"], cmdclass={"build_ext": BuildExtAndStandalone})
