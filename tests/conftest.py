"""Fixtures of the Python tests: images made for the session from the reference images."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

PYTHON_FIPS = "fipscheck/python-fips:latest"
# python-fips's own site directory (Debian's patches to CPython name it dist-packages)
SITE_PACKAGES = "usr/local/lib/python3.13/dist-packages"
# Where pip may find wheels for python-fips's CPython 3.13 (glibc 2.41).
PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")


@pytest.fixture(scope="session")
def cryptography_wheel_image(engine, image, tmp_path_factory):
    """python-fips plus what `pip install cryptography` gives: a wheel whose extension carries
    its own OpenSSL. Made here, not by scripts/images.py, because pip reaches an index only
    with this host's configuration; removed at the end of the session."""
    wheels = tmp_path_factory.mktemp("wheels")
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                    "--python-version", "3.13", "--implementation", "cp", *platforms,
                    "--dest", str(wheels), "cryptography"], check=True, timeout=600)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as contents:
                for member in contents.infolist():
                    if member.is_dir():
                        continue
                    info = tarfile.TarInfo(f"{SITE_PACKAGES}/{member.filename}")
                    info.size, info.mode = member.file_size, 0o644
                    archive.addfile(info, contents.open(member))
    container = engine.containers.create(image(PYTHON_FIPS), entrypoint=["true"],
                                         network_mode="none")
    repository, tag = "fipscheck-test/python-fips-cryptography-wheel", str(os.getpid())
    try:
        container.put_archive("/", buffer.getvalue())
        made = container.commit(repository=repository, tag=tag)
    finally:
        container.remove(force=True)
    yield f"{repository}:{tag}"
    engine.images.remove(made.id, force=True)
