"""The loader's inputs read from a root: ld.so.cache in both layouts glibc writes (checked
against the host's own ldconfig, which writes and lists them), ld.so.conf with includes."""

from __future__ import annotations

import re
import subprocess

import pytest

from fipscheck.fs import RootFilesystem
from fipscheck.loader import CACHE, LoaderConfigError, loader_config, parse_cache, read_conf


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
