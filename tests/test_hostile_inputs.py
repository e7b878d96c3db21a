"""Crafted hostile inputs (issue 9, "bounded work on hostile bytes"): each ends quickly with a
verdict or an error that gives the precise reason, and one bad file never takes down the
checks that do not read it. Roots are made in tmp_path; OpenSSL's own reader (NCONF_load of
this machine's libcrypto) says what OpenSSL makes of the same configuration files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import real_nconf
from crafted import GO_FIPS_SETTINGS, fifo, go_binary, modinfo, symlink_loop
from fipscheck.errors import EvidenceError
from fipscheck.fs import NotAFileError, RootFilesystem
from fipscheck.loader import CACHE, MAX_CACHE_BYTES, loader_config, read_conf
from fipscheck.model import Status
from fipscheck.nconf import MAX_FILES, MAX_TOTAL_BYTES, ConfigError, ConfigLimitError, read_config
from fipscheck.runner import scan
from fipscheck.targets import RootfsTarget

HOST_LIBCRYPTO = Path("/usr/lib/x86_64-linux-gnu/libcrypto.so.3")  # OPENSSLDIR /usr/lib/ssl
CONFIG = "/usr/lib/ssl/openssl.cnf"  # where that libcrypto looks without OPENSSL_CONF


def write(root: Path, path: str, data: str | bytes) -> Path:
    file = root / path.lstrip("/")
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(data.encode() if isinstance(data, str) else data)
    return file


def checked(root: Path, *ids: str):
    report = scan(RootfsTarget(root), checks=list(ids))
    return {r.id: r for r in report.checks}


@pytest.fixture
def openssl_root(tmp_path) -> Path:
    """A root with an OpenSSL 3 libcrypto (this machine's) for openssl.config to judge."""
    (tmp_path / HOST_LIBCRYPTO.parent.relative_to("/")).mkdir(parents=True)
    shutil.copy(HOST_LIBCRYPTO, tmp_path / HOST_LIBCRYPTO.relative_to("/"))
    return tmp_path


def config_result(root: Path):
    return checked(root, "openssl.config")["openssl.config"]


# -- openssl.cnf: expansion ------------------------------------------------------------------
@pytest.mark.parametrize(("length", "loads"), [(65535, True), (65536, False)])
def test_expansion_stops_where_openssl_stops(tmp_path, length, loads):
    config = write(tmp_path, "/a.cnf", f"long = {'z' * length}\na = $long\n")
    assert (real_nconf.load(str(config), []).refused is None) is loads
    if loads:
        assert len(read_config(RootFilesystem(tmp_path), "/a.cnf", {}).get("default", "a").text) == length
    else:
        with pytest.raises(ConfigError, match="variable expansion too long"):
            read_config(RootFilesystem(tmp_path), "/a.cnf", {})


def test_doubling_expansion_is_refused_at_64_kib(openssl_root):
    doubling = "".join(f"v{i + 1} = $v{i}$v{i}\n" for i in range(40))  # 2^40 bytes if unbounded
    config = write(openssl_root, CONFIG, f"v0 = {'x' * 1000}\n{doubling}")
    assert "variable expansion too long" in real_nconf.load(str(config), []).refused
    result = config_result(openssl_root)
    assert result.status is Status.FAIL and "variable expansion too long" in result.message


def test_expansion_across_many_values_is_bounded(openssl_root):
    lines = "".join(f"v{i} = $big\n" for i in range(MAX_TOTAL_BYTES // 60000 + 10))
    write(openssl_root, CONFIG, f"big = {'x' * 60000}\n{lines}")
    result = config_result(openssl_root)
    assert result.status is Status.ERROR, result.message
    assert "ConfigLimitError" in result.message and f"more than {MAX_TOTAL_BYTES} bytes" in result.message


# -- openssl.cnf: includes -----------------------------------------------------------------
def test_include_fan_out_ends_at_the_file_limit(openssl_root):
    """Eight includes of the next level, fourteen levels: 8^14 files if read as written."""
    for level in range(14):
        write(openssl_root, f"/etc/ssl/l{level}.cnf", f".include /etc/ssl/l{level + 1}.cnf\n" * 8)
    write(openssl_root, "/etc/ssl/l14.cnf", "x = 1\n")
    write(openssl_root, CONFIG, ".include /etc/ssl/l0.cnf\n")
    with pytest.raises(ConfigLimitError, match=f"more than {MAX_FILES} files"):
        read_config(RootFilesystem(openssl_root), CONFIG, {})
    result = config_result(openssl_root)
    assert result.status is Status.ERROR and f"more than {MAX_FILES} files" in result.message


def test_a_directory_include_lists_that_directory_only(tmp_path):
    write(tmp_path, "/a.cnf", ".include /d\n")
    write(tmp_path, "/d/1.cnf", "[s]\none = 1\n")
    write(tmp_path, "/d/sub/2.cnf", "this is no configuration\n")  # a subdirectory: not read
    write(tmp_path, "/d/sub/deeper/3.cnf", "nor this\n")
    (tmp_path / "d/dir.cnf").mkdir()  # a directory so named reads as empty
    write(tmp_path, "/d/4.CNF", ".include /e\n")  # any case; a directory from a directory's file:
    write(tmp_path, "/e/5.cnf", "[s]\nfive = 5\n")  # OpenSSL skips it
    config = read_config(RootFilesystem(tmp_path), "/a.cnf", {})
    assert config.files == ["/a.cnf", "/d/1.cnf", "/d/4.CNF"]
    assert {k: v.text for k, v in config.sections["s"].items()} == {"one": "1"}
    assert config.missing_includes == ["/d/4.CNF:1: /e (a directory included from a directory's "
                                       "file: OpenSSL skips it)"]


def test_the_real_reader_skips_a_directory_included_from_a_directory(tmp_path):
    write(tmp_path, "a.cnf", f".include {tmp_path}/d\n")
    write(tmp_path, "d/1.cnf", f"one = 1\n.include {tmp_path}/e\n")
    write(tmp_path, "e/2.cnf", "two = 2\n")
    names = [("default", "one"), ("default", "two")]
    real = real_nconf.load(str(tmp_path / "a.cnf"), names)
    ours = read_config(RootFilesystem("/"), str(tmp_path / "a.cnf"), {})
    assert real.values == {("default", "one"): b"1", ("default", "two"): None}
    assert ours.get("default", "one").text == "1" and ours.get("default", "two") is None


def test_nul_in_an_include_line_is_read_as_openssl_reads_it(tmp_path):
    """OpenSSL's reader stops at the NUL and joins the next line: the include names a file
    that does not exist, and the assignment on the next line is lost."""
    write(tmp_path, "inc.cnf", "included = yes\n")
    config = write(tmp_path, "a.cnf", f".include {tmp_path}/inc.cnf\0junk\nx = 1\ny = 2\n".encode())
    names = [("default", "included"), ("default", "x"), ("default", "y")]
    real = real_nconf.load(str(config), names)
    assert real.values == {("default", "included"): None, ("default", "x"): None, ("default", "y"): b"2"}
    ours = read_config(RootFilesystem("/"), str(config), {})
    assert ours.get("default", "included") is None and ours.get("default", "x") is None
    assert ours.get("default", "y").text == "2"
    assert ours.missing_includes == [f"{config}:1: {tmp_path}/inc.cnfx = 1"]
    assert ours.notes == [f"{config}:1: NUL byte: OpenSSL reads no further in this chunk of the "
                          "line and joins the rest"]


def test_nul_at_the_start_of_a_line_ends_the_file_for_openssl(tmp_path):
    config = write(tmp_path, "a.cnf", b"a = 1\n\0b = 2\nc = 3\n")
    names = [("default", "a"), ("default", "c")]
    assert real_nconf.load(str(config), names).values == {("default", "a"): b"1", ("default", "c"): None}
    ours = read_config(RootFilesystem("/"), str(config), {})
    assert ours.get("default", "a").text == "1" and ours.get("default", "c") is None
    assert "the file only up to it" in ours.notes[0]


# -- openssl.cnf: not a file ----------------------------------------------------------------
def test_a_fifo_config_is_an_error_naming_it(openssl_root):
    fifo(openssl_root / CONFIG.lstrip("/"))
    result = config_result(openssl_root)
    assert result.status is Status.ERROR
    assert f"NotAFileError: {CONFIG} is a FIFO, not a regular file" in result.message


def test_a_directory_config_reads_as_empty(openssl_root, tmp_path):
    (openssl_root / CONFIG.lstrip("/")).mkdir(parents=True)
    assert real_nconf.load(str(openssl_root / CONFIG.lstrip("/")), []).refused is None  # empty
    result = config_result(openssl_root)
    assert result.status is Status.FAIL
    assert f"{CONFIG} is a directory: OpenSSL reads it as an empty configuration" in result.message


def test_a_symlink_loop_config_cannot_be_opened(openssl_root):
    symlink_loop(openssl_root / CONFIG.lstrip("/"))
    assert real_nconf.load(str(openssl_root / CONFIG.lstrip("/")), []).refused is not None
    result = config_result(openssl_root)
    assert result.status is Status.FAIL
    assert f"{CONFIG} cannot be opened (symlink loop resolving" in result.message


@pytest.mark.parametrize("where", ["/etc/ssl/x.cnf", "/etc/ssl/d/x.cnf"])
def test_an_included_fifo_is_an_error(openssl_root, where):
    fifo(openssl_root / where.lstrip("/"))
    include = "/etc/ssl/d" if "/d/" in where else where
    write(openssl_root, CONFIG, f"openssl_conf = init\n.include {include}\n[init]\n")
    result = config_result(openssl_root)
    assert result.status is Status.ERROR and f"{where} is a FIFO" in result.message


def test_an_included_symlink_loop_is_skipped_as_openssl_skips_it(tmp_path):
    symlink_loop(tmp_path / "loop.cnf")
    write(tmp_path, "a.cnf", f".include {tmp_path}/loop.cnf\nx = 1\n")
    assert real_nconf.load(str(tmp_path / "a.cnf"), [("default", "x")]).values == {("default", "x"): b"1"}
    ours = read_config(RootFilesystem("/"), str(tmp_path / "a.cnf"), {})
    assert ours.get("default", "x").text == "1" and "symlink loop" in ours.missing_includes[0]


# -- Go build info ---------------------------------------------------------------------------
# Between two quotes, a Python expression: ast.literal_eval ran out of parser memory on it.
MEMORY_EXHAUSTING = '"" and ' + "-" * 200_000 + '""'


def test_a_crafted_200_kb_setting_makes_one_binary_malformed_and_nothing_else(tmp_path):
    go_binary(tmp_path / "app", "good", modinfo(GO_FIPS_SETTINGS))
    go_binary(tmp_path / "app", "bad", modinfo({**GO_FIPS_SETTINGS, "-ldflags": MEMORY_EXHAUSTING}))
    results = checked(tmp_path, "go.fips-toolchain", "libraries.banned", "linkage.libcrypto")
    go = results["go.fips-toolchain"]
    assert go.status is Status.ERROR, go.message
    assert list(go.evidence["unreadable"]) == ["/app/bad"]
    assert "bad quoted string" in go.evidence["unreadable"]["/app/bad"]
    assert [b["path"] for b in go.evidence["binaries"]] == ["/app/good"]
    assert results["libraries.banned"].status is Status.PASS
    assert results["linkage.libcrypto"].status is Status.SKIP


def test_a_200_kb_setting_quoted_as_go_quotes_is_read(tmp_path):
    flags = "-X main.v=" + "a b\\t" * 40_000
    go_binary(tmp_path, "app", modinfo({**GO_FIPS_SETTINGS, "-ldflags": f'"{flags}"'}))
    go = checked(tmp_path, "go.fips-toolchain")["go.fips-toolchain"]
    assert go.status is Status.PASS, go.message


# -- the loader's files ----------------------------------------------------------------------
def test_nul_bytes_in_ld_so_conf_are_read_as_ldconfig_reads_them(tmp_path):
    write(tmp_path, "/etc/ld.so.conf", b"/opt/a\0/etc/evil\ninclude /etc/ld.so.conf.d/*\0.nothing\n")
    write(tmp_path, "/etc/ld.so.conf.d/x.conf", b"/opt/x\n")
    problems: list[str] = []
    assert read_conf(RootFilesystem(tmp_path), problems=problems) == ["/opt/a", "/opt/x"]
    assert problems == ["/etc/ld.so.conf:1: NUL byte: read up to it, as ldconfig does",
                        "/etc/ld.so.conf:2: NUL byte: read up to it, as ldconfig does"]
    linkage = checked(tmp_path, "linkage.libcrypto")["linkage.libcrypto"]
    assert linkage.evidence["loader_problems"] == problems


def test_a_fifo_loader_cache_is_an_error_naming_it(tmp_path):
    fifo(tmp_path / CACHE.lstrip("/"))
    with pytest.raises(NotAFileError, match="is a FIFO"):
        loader_config(RootFilesystem(tmp_path))
    linkage = checked(tmp_path, "linkage.libcrypto")["linkage.libcrypto"]
    assert linkage.status is Status.ERROR
    assert f"NotAFileError: {CACHE} is a FIFO, not a regular file" in linkage.message


def test_a_huge_sparse_loader_cache_is_not_read(tmp_path):
    with open(write(tmp_path, CACHE, b"glibc-ld.so.cache1.1"), "r+b") as f:
        f.truncate(MAX_CACHE_BYTES * 4)
    with pytest.raises(EvidenceError, match=f"larger than {MAX_CACHE_BYTES} bytes"):
        loader_config(RootFilesystem(tmp_path))


# -- paths -----------------------------------------------------------------------------------
def test_a_nul_byte_in_a_path_is_a_precise_error(tmp_path):
    fs = RootFilesystem(tmp_path)
    with pytest.raises(EvidenceError, match="contains a NUL byte"):
        fs.kind("/etc/a\0b")
    assert not fs.exists("/etc/a\0b") and not fs.is_file("/etc/a\0b")


@pytest.mark.parametrize(("make", "kind"), [
    (lambda p: os.mkfifo(p), "FIFO"),
    (lambda p: p.mkdir(), "directory"),
])
def test_opening_what_is_not_a_file_says_what_it_is(tmp_path, make, kind):
    make(tmp_path / "x")
    with pytest.raises(NotAFileError, match=f"/x is a {kind}, not a regular file"):
        RootFilesystem(tmp_path).read_bytes("/x")
