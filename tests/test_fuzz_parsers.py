"""Fuzz targets for the readers of hostile text and tables: openssl.cnf (compared with the real
NCONF_load of this machine's OpenSSL), ld.so.conf, ld.so.cache and Go build info. Each reader
either gives an answer or raises its own error (an evidence error: the check errors or fails,
with the reason); any other exception is a bug. Crashes found by longer runs (fuzz/run.py)
are kept below as regression tests with their minimized inputs."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import real_nconf
from crafted import GO_FIPS_SETTINGS, buildinfo_blob, modinfo
from fipscheck.elf import ElfError
from fipscheck.errors import EvidenceError, RootEscapeError
from fipscheck.fs import NotAFileError, RootFilesystem
from fipscheck.gostrconv import UnquoteError, unquote
from fipscheck.loader import LoaderConfigError, parse_cache, read_conf
from fipscheck.nconf import ConfigError, ConfigLimitError, read_config
from fipscheck.probes.gobuild import FLAG_INLINE, parse_buildinfo, parse_modinfo
from fuzzing import mutations

# -- openssl.cnf ---------------------------------------------------------------------------
SECTIONS = ("default", "s", "t", "ENV", "a b")
NAMES = ("a", "b", "x_1", "a.b", "long", "HOME")
FRAGMENTS = (
    "word", " ", "\t", "$a", "${a}", "$(b)", "${s::a}", "$(t::x_1)", "${ENV::HOME}", "$HOME",
    "$", "${", "$(a", "${a b}", "$long", "$long$long", "\"", "'", "\"q $a # x\"", "'q ${b}'",
    "\\", "\\n", "\\$a", "\\\"", "\\#", "#", " # comment", "::", "=", "é", "\r", "\0",
    "x" * 300, "y" * 509,
)
PRAGMAS = ("dollarid:on", "dollarid:off", "dollarid:yes", "dollarid : TRUE", "abspath:true",
           "foo:bar", "dollarid", ":on", "includedir:/nowhere")
CONTINUATIONS = ("", " \\", " \\\\")  # none, one backslash (continues), two (does not)
HEADER_ENDS = ("", " junk")
LONG = (1, 300, 20000, 32767, 32768, 65534, 65535, 65536)


@st.composite
def config_lines(draw) -> str:
    kind = draw(st.sampled_from(("set", "set", "set", "section", "pragma", "long", "raw")))
    space = st.sampled_from(("", " ", "  ", "\t"))
    if kind == "section":
        name = draw(st.sampled_from(SECTIONS))
        return f"[{draw(space)}{name}{draw(space)}]{draw(st.sampled_from(HEADER_ENDS))}"
    if kind == "pragma":
        return f".pragma{draw(st.sampled_from((' ', '=', ' = ')))}{draw(st.sampled_from(PRAGMAS))}"
    name = draw(st.sampled_from(NAMES))
    if draw(st.booleans()):
        name = f"{draw(st.sampled_from(SECTIONS[:3]))}::{name}"
    if kind == "long":
        return f"long = {'z' * draw(st.sampled_from(LONG))}"
    value = "".join(draw(st.lists(st.sampled_from(FRAGMENTS), max_size=6)))
    if kind == "raw":
        return value
    return f"{name}{draw(space)}={draw(space)}{value}{draw(st.sampled_from(CONTINUATIONS))}"


@st.composite
def configurations(draw) -> bytes:
    lines = draw(st.lists(config_lines(), max_size=14))
    ends = st.sampled_from(("\n", "\n", "\r\n", "\n\0", "\r"))
    text = "".join(line + draw(ends) for line in lines)
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8", "surrogateescape")


def ours(path: str, queries: list[tuple[str, str]]) -> real_nconf.Loaded:
    """fipscheck's reader answering what real_nconf.load answers (root "/": the same files)."""
    env = dict(os.environ)
    try:
        config = read_config(RootFilesystem("/"), path, env)
    except ConfigError as error:
        return real_nconf.Loaded(str(error), {})

    def lookup(section: str, name: str) -> bytes | None:
        value = config.get(section, name)
        text = value.text if value else env.get(name) if section == "ENV" else None
        if text is None and (value := config.get("default", name)):
            text = value.text
        return None if text is None else text.encode("utf-8", "surrogateescape")
    return real_nconf.Loaded(None, {q: lookup(*q) for q in queries})


QUERIES = [(section, name) for section in SECTIONS for name in NAMES]


@pytest.fixture(scope="module")
def cnf(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("nconf") / "fuzz.cnf")


@given(data=configurations())
@example(data=b"a = " + b"x" * 5 + b"\0" + b"y" * 600 + b"z\nb = 2\n")  # a NUL, then a long line
@example(data=b"long = " + b"z" * 65535 + b"\na = $long\n")  # the longest value OpenSSL expands
@example(data=b"long = " + b"z" * 65536 + b"\na = $long\n")  # one byte more: refused
@example(data=b"\xef\xbb\xbfa=\0" + b"y" * 509 + b"\n")  # the BOM counts in the first 510-byte chunk
def test_reader_agrees_with_real_nconf_load(cnf, data):
    with open(cnf, "wb") as f:
        f.write(data)
    real, mine = real_nconf.load(cnf, QUERIES), ours(cnf, QUERIES)
    assert (real.refused is None) == (mine.refused is None), (real.refused, mine.refused)
    assert real.values == mine.values


def test_the_real_reader_is_openssl_3():
    assert real_nconf.version().startswith("OpenSSL 3."), real_nconf.version()


INCLUDES = ("/d", "/d/a.cnf", "d/b.conf", "/", "/nowhere.cnf", "/d/\0x.cnf", "$a", '"/d"',
            "/self.cnf", "/loop", "", "/d/fifo.cnf")


@pytest.fixture(scope="module")
def include_root(tmp_path_factory):
    """A root for includes to reach: a directory of configurations, a file that includes
    itself, a symlink loop and a FIFO (refused with its reason)."""
    root = tmp_path_factory.mktemp("include-root")
    (root / "d").mkdir()
    (root / "d/a.cnf").write_text("[s]\na = 1\n.include /d/b.conf\n")
    (root / "d/b.conf").write_text("b = $a\n")
    (root / "self.cnf").write_text(".include /self.cnf\n")
    os.symlink("loop", root / "loop")
    os.mkfifo(root / "d/fifo.cnf")
    return root


@given(data=st.binary(max_size=2048) | configurations().flatmap(mutations),
       includes=st.lists(st.sampled_from(INCLUDES), max_size=3))
@example(data=b"", includes=["/d/\0x.cnf"])  # ValueError: embedded null byte, before
def test_reader_raises_only_its_own_errors_on_any_bytes(include_root, data, includes):
    """Any bytes, with includes of what a root can hold: a configuration, its error, or an
    error saying what was found where a file was expected."""
    (include_root / "fuzz.cnf").write_bytes(b"".join(f".include {i}\n".encode() for i in includes) + data)
    with contextlib.suppress(ConfigError, ConfigLimitError, NotAFileError, RootEscapeError):
        read_config(RootFilesystem(include_root), "/fuzz.cnf", {})


def test_an_include_whose_name_is_too_long_is_skipped_as_openssl_skips_it(include_root):
    """Found by the target above: stat() fails with ENAMETOOLONG, and OpenSSL goes on."""
    (include_root / "long.cnf").write_text(f".include /d/{'z' * 300}.cnf\nx = 1\n")
    config = read_config(RootFilesystem(include_root), "/long.cnf", {})
    assert config.get("default", "x").text == "1" and "File name too long" in config.missing_includes[0]


# -- ld.so.conf and ld.so.cache --------------------------------------------------------------
CONF_LINES = ("include /etc/ld.so.conf.d/*.conf", "include b*.conf", "include\t/etc/ld.so.conf",
              "include /etc/ld.so.conf.d/loop/*", "/usr/local/lib", "/opt/x/lib/", "/lib=x86_64",
              "hwcap 0 nosegneg", "# comment", "include", "includex /a", "/a\0/b", "\0include /x",
              "\xff\xfe", " ", "include /etc/ld.so.conf.d/\0*.conf", "include *\0.conf x*",
              "include /etc/ld.so.conf.d\0/x/*.conf")


@st.composite
def conf_trees(draw) -> dict[str, bytes]:
    def text() -> bytes:
        lines = draw(st.lists(st.sampled_from(CONF_LINES) | st.text(max_size=20), max_size=8))
        return "\n".join(lines).encode("utf-8", "surrogateescape")
    files = {"/etc/ld.so.conf": text()}
    for name in draw(st.lists(st.sampled_from(("a.conf", "b.conf", "b2.conf", "c.txt")), unique=True)):
        files[f"/etc/ld.so.conf.d/{name}"] = text()
    return files


@given(tree=conf_trees(), links=st.sets(st.sampled_from(("loop", "self", "up", "dangling"))))
@example(tree={"/etc/ld.so.conf": b"include /etc/ld.so.conf.d\0/x/*.conf"}, links=set())  # ValueError
def test_ld_so_conf_reads_any_tree(tmp_path_factory, tree, links):
    root = tmp_path_factory.mktemp("ldconf")
    for path, data in tree.items():
        (root / path[1:]).parent.mkdir(parents=True, exist_ok=True)
        (root / path[1:]).write_bytes(data)
    confd = root / "etc/ld.so.conf.d"
    confd.mkdir(parents=True, exist_ok=True)
    targets = {"loop": "loop", "self": "/etc/ld.so.conf", "up": "../../..", "dangling": "/nowhere"}
    for name in links:
        os.symlink(targets[name], confd / (name if name == "loop" else f"{name}.conf"))
    try:
        dirs = read_conf(RootFilesystem(root), problems=(problems := []))
    except EvidenceError:
        return
    assert all(isinstance(d, str) and "\0" not in d for d in dirs)
    assert all(isinstance(p, str) for p in problems)


@pytest.fixture(scope="module")
def cache_seed(tmp_path_factory) -> bytes:
    """This machine's ld.so.cache written anew by its ldconfig (both tables: the compat layout)."""
    cache = tmp_path_factory.mktemp("cache") / "ld.so.cache"
    subprocess.run(["ldconfig", "-c", "compat", "-C", str(cache)], check=True)
    return cache.read_bytes()


def test_a_cache_cut_inside_the_old_tables_count_is_its_own_error():
    """Found by the target below on the old parser: struct.error escaped parse_cache."""
    with pytest.raises(LoaderConfigError, match="truncated"):
        parse_cache(b"ld.so-1.7.0\0")


@given(data=st.data())
def test_ld_so_cache_parser_raises_only_its_own_error(cache_seed, data):
    # the header of each table, then anywhere
    new = cache_seed.find(b"glibc-ld.so.cache1.1")
    hot = [12, 16, 20, 24, 28, *range(new, new + 48, 4)]
    damaged = data.draw(mutations(cache_seed, hot))
    try:
        parsed = parse_cache(damaged)
    except LoaderConfigError:
        return
    assert all(isinstance(p, str) for paths in parsed.values() for p in paths)


# -- Go build info ---------------------------------------------------------------------------
def fips_blob(settings: dict[str, str]) -> bytes:
    return buildinfo_blob("go1.24.4", modinfo(settings))


@given(data=st.data())
def test_go_build_info_parser_raises_only_its_own_error(data):
    """The inline layout (Go >= 1.18); the pointer layout reads the ELF: test_fuzz_elf.py."""
    seed = fips_blob({**GO_FIPS_SETTINGS, "-ldflags": '"-s -w"', "vcs": "git"})
    blob = data.draw(mutations(seed, hot=list(range(32, 48))))
    assume(len(blob) > 15 and blob[15] & FLAG_INLINE)
    with contextlib.suppress(ElfError):
        parse_buildinfo(None, blob)  # type: ignore[arg-type]  # inline: no ELF needed


SETTING_PIECES = ("GOFIPS140", "=", "v1.0.0", '"', "`", "\\", "\\x41", "\\u00e9", "\\U0001F600",
                  "\\377", "\\400", "\\q", " ", "\t", "\n", "build\t", '"-s -w"', "\\\"", "é")


@given(lines=st.lists(st.lists(st.sampled_from(SETTING_PIECES), max_size=8).map("".join), max_size=6))
@example(lines=['-ldflags="" and ' + "-" * 200_000 + '""'])  # MemoryError in ast.literal_eval, before
@example(lines=['-ldflags=""' + '+""' * 100_000])  # RecursionError in ast.literal_eval, before
def test_modinfo_lines_parse_or_are_malformed(lines):
    text = "".join(f"build\t{line}\n" for line in lines)
    try:
        info = parse_modinfo("go1.24.4", "inline", text)
    except ElfError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in info.settings.items())


@given(value=st.text())
def test_go_unquote_reads_what_a_go_style_quoter_wrote(value):
    """JSON's string escapes are a subset of Go's (\\" \\\\ \\n \\t \\uXXXX ...)."""
    assert unquote(json.dumps(value, ensure_ascii=False)) == value


@pytest.mark.parametrize(("literal", "value"), [
    (r'"a\tb\x41\u00e9\U0001F600\101"', "a\tbAé😀A"),
    (r'"\377"', "\udcff"),  # a byte that is not UTF-8, kept as Go keeps it
    ("`raw \\n\r`", "raw \\n"),  # raw strings drop carriage returns
    (r'"\q"', None), (r'"\400"', None), (r'"\ud800"', None), (r'"\x+1"', None), ('"a"b"', None),
    ('"a\nb"', None), ('"\\"', None), ("`a`b`", None), ('"open', None),
])
def test_go_unquote_follows_strconv(literal, value):
    if value is None:
        with pytest.raises(UnquoteError):
            unquote(literal)
    else:
        assert unquote(literal) == value
