"""The loader's inputs read from a root: ld.so.cache in both layouts glibc writes (checked
against the host's own ldconfig, which writes and lists them), ld.so.conf with includes, and
the default directories compiled into the root's own loader (see also test_arm64.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from fipscheck.fs import RootFilesystem
from fipscheck.loader import (
    CACHE,
    LoaderConfigError,
    loader_config,
    loader_system_dirs,
    parse_cache,
    read_conf,
)
from fipscheck.probes.linkage import linkage
from fipscheck.runner import ScanContext
from fipscheck.targets.rootfs import RootfsTarget


def ldconfig_listing(cache) -> dict[str, list[str]]:
    """What the host's ldconfig says a cache file holds."""
    out = subprocess.run(["ldconfig", "-p", "-C", str(cache)], check=True, capture_output=True,
                         text=True).stdout
    listing: dict[str, list[str]] = {}
    for name, path in re.findall(r"^\s+(\S+) \([^)]*\) => (\S+)$", out, re.M):
        listing.setdefault(name, []).append(path)
    return listing


@pytest.mark.parametrize("layout", ["new", "compat"])
def test_cache_layouts_read_as_ldconfig_lists_them(tmp_path, layout):
    cache = tmp_path / "ld.so.cache"
    subprocess.run(["ldconfig", "-c", layout, "-C", str(cache)], check=True)
    data = cache.read_bytes()
    assert data.startswith(b"ld.so-1.7.0" if layout == "compat" else b"glibc-ld.so.cache1.1")
    parsed = parse_cache(data)
    assert parsed == ldconfig_listing(cache)
    assert "libcrypto.so.3" in parsed


@pytest.mark.parametrize("cut", [10, 30, 60, 200])
def test_truncated_cache_is_refused(tmp_path, cut):
    cache = tmp_path / "ld.so.cache"
    subprocess.run(["ldconfig", "-C", str(cache)], check=True)
    with pytest.raises(LoaderConfigError):
        parse_cache(cache.read_bytes()[:cut])


def test_conf_includes_are_followed_inside_the_root(tmp_path):
    (tmp_path / "etc/ld.so.conf.d").mkdir(parents=True)
    (tmp_path / "etc/ld.so.conf").write_text("# comment\ninclude /etc/ld.so.conf.d/*.conf\n"
                                             "/usr/local/lib\n")
    (tmp_path / "etc/ld.so.conf.d/a.conf").write_text("/opt/a/lib/\ninclude b.extra\n")
    (tmp_path / "etc/ld.so.conf.d/b.extra").write_text("/opt/b\n")
    (tmp_path / "etc/ld.so.conf.d/loop.conf").write_text("include /etc/ld.so.conf\n")
    fs = RootFilesystem(tmp_path)
    assert read_conf(fs) == ["/opt/a/lib", "/opt/b", "/usr/local/lib"]
    config = loader_config(fs)
    assert config.cache is None and "missing" in config.cache_note
    assert config.conf_dirs == ("/opt/a/lib", "/opt/b", "/usr/local/lib")


def test_garbage_cache_falls_back_to_conf(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/ld.so.conf").write_text("/opt/lib\n")
    (tmp_path / CACHE.lstrip("/")).write_bytes(b"not a cache at all" * 10)
    config = loader_config(RootFilesystem(tmp_path))
    assert config.cache is None and config.problems and config.conf_dirs == ("/opt/lib",)


def test_default_directories_are_the_programs_own_loaders(tmp_path):
    """A root with this machine's (Debian's) x86-64 loader: ld.so searches its compiled-in
    directories, the multiarch pair then /lib and /usr/lib, and not /lib64, which the
    fallback for a root without a loader would have tried."""
    root = tmp_path / "root"
    (root / "lib64").mkdir(parents=True)
    shutil.copy("/lib64/ld-linux-x86-64.so.2", root / "lib64")
    (tmp_path / "stub.c").write_text("void EVP_Digest(void) {}\n")
    (tmp_path / "app.c").write_text("void EVP_Digest(void); int main(void) { EVP_Digest(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(root / "lib64/libcrypto.so.3"),
                    "-Wl,-soname,libcrypto.so.3", str(tmp_path / "stub.c")], check=True)
    (root / "usr/bin").mkdir(parents=True)
    subprocess.run(["gcc", "-o", str(root / "usr/bin/app"), str(tmp_path / "app.c"),
                    f"-L{root / 'lib64'}", "-l:libcrypto.so.3"], check=True)
    closure = next(c for c in linkage(ScanContext(RootfsTarget(root))).closures
                   if c.program == "/usr/bin/app")
    assert ("libcrypto.so.3", "/usr/bin/app") in closure.missing and not closure.libcrypto
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    os.rename(root / "lib64/libcrypto.so.3", root / "usr/lib/x86_64-linux-gnu/libcrypto.so.3")
    [found] = next(c for c in linkage(ScanContext(RootfsTarget(root))).closures
                   if c.program == "/usr/bin/app").libcrypto
    assert (found.path, found.found_by) == ("/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                                            "default directory of /lib64/ld-linux-x86-64.so.2")


@pytest.mark.parametrize(("content", "expected"), [
    (b"\x7fELF\0/etc/\0%s\0/lib/a-linux-gnu/\0/usr/lib/a-linux-gnu/\0/lib/\0" + b"x" * 100,
     ("/lib/a-linux-gnu", "/usr/lib/a-linux-gnu", "/lib")),
    (b"/" * (1 << 20), None),  # one run of slashes, not a list of directories
    (b"/lib/\0" * 1000, None),  # more adjacent directories than any loader has
    (b"\0/usr/share/\0/etc/\0", None),  # directories, but none a lib directory
])
def test_system_directories_are_found_only_as_glibc_writes_them(tmp_path, content, expected):
    (tmp_path / "ld.so").write_bytes(content)
    assert loader_system_dirs(RootFilesystem(tmp_path), "/ld.so") == expected
