"""openssl.config against the reference image and its twins, the module MAC against the real
`openssl fipsinstall` run inside the image, and the configuration reader against hand-made
configurations (real libcrypto and fips.so copied from the reference image)."""

from __future__ import annotations

import re
import shutil

import pytest

from fipscheck.fs import RootFilesystem
from fipscheck.model import Status
from fipscheck.nconf import ConfigError, read_config
from fipscheck.runner import scan
from fipscheck.targets import ImageTarget, RootfsTarget

REFERENCE = "fipscheck/openssl-fips:latest"
LIBDIR = "/usr/lib/x86_64-linux-gnu"
MODULE = f"{LIBDIR}/ossl-modules/fips.so"
TWINS = {  # image -> (status, words the message must contain)
    REFERENCE: (Status.PASS, "module MAC verified"),
    "fipscheck/openssl-fips-not-activated:latest": (Status.FAIL, "no FIPS provider is configured"),
    "fipscheck/openssl-fips-no-default-properties:latest": (
        Status.FAIL, "default_properties does not contain fips=yes"),
    "fipscheck/openssl-fips-tampered:latest": (
        Status.FAIL, "module-mac in /etc/ssl/fipsmodule.cnf does not match"),
}
# The real tool inside the image: verify the recorded MAC, then compute a fresh one.
FIPSINSTALL = (f"OPENSSL_CONF=/dev/null openssl fipsinstall -module {MODULE} -in /etc/ssl/fipsmodule.cnf "
               f"-verify 2>&1; OPENSSL_CONF=/dev/null openssl fipsinstall -module {MODULE} -out /tmp/m.cnf "
               ">/dev/null 2>&1 && grep module-mac /tmp/m.cnf")


def config_result(name: str):
    with ImageTarget(name) as target:
        return scan(target, checks=["openssl.config"]).checks[0]


@pytest.fixture(scope="module")
def results(image):
    """The check's result for the reference and each twin, scanned once for this module."""
    return {name: config_result(image(name)) for name in TWINS}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_reference_and_twins(name, results):
    result = results[name]
    status, words = TWINS[name]
    assert result.status is status and words in result.message, result.message
    only = result.evidence["configurations"][0]
    assert only["config"] == "/etc/ssl/openssl.cnf" and only["config_from"] == "OPENSSL_CONF"


def test_libcrypto_reached_through_ld_library_path(image):
    """cni-fips keeps OpenSSL under /usr/local/openssl, reached only through the image's
    LD_LIBRARY_PATH: the configuration judged is the one that libcrypto loads."""
    result = config_result(image("fipscheck/cni-fips:latest"))
    assert result.status is Status.PASS, result.message
    [only] = result.evidence["configurations"]
    assert only["libcrypto"] == "/usr/local/openssl/lib64/libcrypto.so.3"
    assert only["config"] == "/usr/local/openssl/ssl/openssl.cnf"


@pytest.mark.parametrize("name", [REFERENCE, "fipscheck/openssl-fips-tampered:latest"])
def test_mac_agrees_with_openssl_fipsinstall(name, image, run_in, results, no_leaks):
    code, output = run_in(image(name), FIPSINSTALL)
    assert code == 0, output
    fresh = re.search(r"module-mac = (\S+)", output).group(1)
    only = results[name].evidence["configurations"][0]
    assert only["module_mac_computed"] == fresh
    verified = "VERIFY PASSED" in output
    assert verified == ("VERIFY FAILED" not in output)
    assert verified == (only["module_mac_recorded"] == only["module_mac_computed"])


@pytest.fixture(scope="module")
def parts(image, tmp_path_factory):
    """libcrypto, fips.so and fipsmodule.cnf of the reference image, on the host."""
    out = tmp_path_factory.mktemp("openssl-parts")
    with ImageTarget(image(REFERENCE)) as target:
        for path in (f"{LIBDIR}/libcrypto.so.3", MODULE, f"{LIBDIR}/ossl-modules/legacy.so",
                     "/etc/ssl/fipsmodule.cnf"):
            shutil.copy(target.filesystem.host_path(path), out / path.rsplit("/", 1)[-1])
    return out


@pytest.fixture
def root(parts, tmp_path):
    """A root with the reference image's OpenSSL; the config is written by each test at
    /usr/lib/ssl/openssl.cnf (libcrypto's OPENSSLDIR, as no OPENSSL_CONF is set)."""
    (tmp_path / LIBDIR[1:] / "ossl-modules").mkdir(parents=True)
    (tmp_path / "usr/lib/ssl").mkdir(parents=True)
    (tmp_path / "etc/ssl").mkdir(parents=True)
    shutil.copy(parts / "libcrypto.so.3", tmp_path / LIBDIR[1:])
    shutil.copy(parts / "fips.so", tmp_path / MODULE[1:])
    shutil.copy(parts / "fipsmodule.cnf", tmp_path / "etc/ssl")
    return tmp_path


def write(root, path: str, text: str) -> None:
    (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / path.lstrip("/")).write_text(text)


ENFORCING = """openssl_conf = openssl_init
.include /etc/ssl/fipsmodule.cnf
[openssl_init]
providers = provider_sect
alg_section = algorithm_sect
[provider_sect]
fips = fips_sect
base = base_sect
[base_sect]
activate = 1
[algorithm_sect]
default_properties = fips=yes
"""


def check(root):
    return scan(RootfsTarget(root), checks=["openssl.config"]).checks[0]


@pytest.mark.parametrize("edit, status, words", [
    (lambda c: c, Status.PASS, "module MAC verified"),
    (lambda c: c.replace("default_properties = fips=yes", "default_properties = ?fips=yes"),
     Status.FAIL, "does not contain fips=yes"),
    (lambda c: c.replace("default_properties = fips=yes", "fips_mode = yes"), Status.PASS, "verified"),
    (lambda c: c + "[fips_sect]\nactivate = 0\n", Status.FAIL, "'fips' is not activated"),
    (lambda c: c.replace(".include /etc/ssl/fipsmodule.cnf", ""), Status.FAIL, "not activated"),
    (lambda c: c.replace("openssl_conf = openssl_init", ""), Status.FAIL, "no `openssl_conf`"),
    (lambda c: c.replace(".include /etc/ssl/fipsmodule.cnf", ".include /etc/ssl/gone.cnf"),
     Status.FAIL, "not activated"),
    (lambda c: c + "x = $undefined\n", Status.FAIL, "has no value"),
    (lambda c: c + "no equals sign\n", Status.FAIL, "missing equal sign"),
])
def test_handmade_configurations(root, edit, status, words):
    write(root, "/usr/lib/ssl/openssl.cnf", edit(ENFORCING))
    result = check(root)
    assert result.status is status and words in result.message, result.message


def test_replaced_module_is_caught(root, parts):
    shutil.copy(parts / "legacy.so", root / MODULE[1:])
    write(root, "/usr/lib/ssl/openssl.cnf", ENFORCING)
    result = check(root)
    assert result.status is Status.FAIL and "does not match" in result.message


def test_missing_config_fails(root):
    result = check(root)
    assert result.status is Status.FAIL and "does not exist" in result.message


def test_config_link_resolves_inside_the_root(root):
    write(root, "/etc/ssl/openssl.cnf", ENFORCING)
    (root / "usr/lib/ssl/openssl.cnf").symlink_to("/etc/ssl/openssl.cnf")  # absolute: the root's /etc
    assert check(root).status is Status.PASS


def test_include_loop_is_refused(tmp_path):
    write(tmp_path, "/a.cnf", ".include /b.cnf\n")
    write(tmp_path, "/b.cnf", ".include = /a.cnf\n")
    with pytest.raises(ConfigError, match="include loop"):
        read_config(RootFilesystem(tmp_path), "/a.cnf", {})


def test_missing_include_is_skipped_and_recorded(tmp_path):
    write(tmp_path, "/a.cnf", "x = 1\n.include /nowhere.cnf\n")
    config = read_config(RootFilesystem(tmp_path), "/a.cnf", {})
    assert config.missing_includes == ["/a.cnf:2: /nowhere.cnf"] and config.get("default", "x").text == "1"


def test_directory_include_reads_cnf_and_conf_only(tmp_path):
    write(tmp_path, "/a.cnf", ".include /d\n")
    write(tmp_path, "/d/1.cnf", "[s]\none = 1\n")
    write(tmp_path, "/d/2.conf", "two = 2\n")  # continues section s, as OpenSSL does
    write(tmp_path, "/d/3.txt", "[s]\nthree = 3\n")
    write(tmp_path, "/d/sub/4.cnf", "[s]\nfour = 4\n")
    config = read_config(RootFilesystem(tmp_path), "/a.cnf", {})
    assert {k: v.text for k, v in config.sections["s"].items()} == {"one": "1", "two": "2"}
    assert config.sections["s"]["two"].file == "/d/2.conf"


def test_values_variables_and_pragmas(tmp_path):
    write(tmp_path, "/inc/rel.cnf", "[r]\nincluded = yes\n")
    write(tmp_path, "/a.cnf", r"""
dir = /opt # trailing comment
[t]
v = tv
[s]
path = $dir/x
braced = ${dir}/y
other = $(t::v)
env = ${ENV::HOME}
quoted = "a # not a comment"
escaped = a\#b
long = one \
two
t::set = from s
[t]
.pragma dollarid:on
literal = a$dir
.pragma includedir:/inc
.include rel.cnf
""")
    config = read_config(RootFilesystem(tmp_path), "/a.cnf", {"HOME": "/root"})
    s = {k: v.text for k, v in config.sections["s"].items()}
    assert s == {"path": "/opt/x", "braced": "/opt/y", "other": "tv", "env": "/root",
                 "quoted": "a # not a comment", "escaped": "a#b", "long": "one two"}
    assert config.get("t", "set").text == "from s" and config.get("t", "literal").text == "a$dir"
    assert config.get("r", "included").text == "yes"


def test_abspath_pragma_refuses_relative_includes(tmp_path):
    write(tmp_path, "/a.cnf", ".pragma abspath:true\n.include rel.cnf\n")
    with pytest.raises(ConfigError, match="relative include"):
        read_config(RootFilesystem(tmp_path), "/a.cnf", {})


EDGE_CONFIGS = {  # name -> config; the include loop spans two files
    "missing": "openssl_conf = openssl_init\n.include /tmp/gone.cnf\n.include /etc/ssl/fipsmodule.cnf\n"
               "[openssl_init]\nproviders = p\n[p]\nfips = fips_sect\n",
    "undefined": "openssl_conf = openssl_init\nx = $undefined\n.include /etc/ssl/fipsmodule.cnf\n"
                 "[openssl_init]\nproviders = p\n[p]\nfips = fips_sect\n",
    "loop": ".include /tmp/loop-back.cnf\n.include /etc/ssl/fipsmodule.cnf\nopenssl_conf = openssl_init\n"
            "[openssl_init]\nproviders = p\n[p]\nfips = fips_sect\n",
    "loop-back": ".include /tmp/loop.cnf\n",
}


def test_reader_refuses_what_openssl_refuses(image, run_in, tmp_path, parts):
    """The real OpenSSL in the reference image loads each edge configuration (the FIPS provider
    is listed) or refuses it (it falls back to the default provider); the reader agrees."""
    files = "".join(f"printf '%s' '{text}' > /tmp/{name}.cnf\n" for name, text in EDGE_CONFIGS.items())
    probe = "".join(f"OPENSSL_CONF=/tmp/{name}.cnf openssl list -providers | grep -q '^  fips$' "
                    f"&& echo {name}=loaded || echo {name}=refused\n"
                    for name in EDGE_CONFIGS if name != "loop-back")
    code, output = run_in(image(REFERENCE), files + probe)
    assert code == 0, output
    real = dict(line.split("=") for line in output.split())
    for name, text in EDGE_CONFIGS.items():
        write(tmp_path, f"/tmp/{name}.cnf", text)
    write(tmp_path, "/etc/ssl/fipsmodule.cnf", (parts / "fipsmodule.cnf").read_text())
    ours = {}
    for name in real:
        try:
            read_config(RootFilesystem(tmp_path), f"/tmp/{name}.cnf", {})
            ours[name] = "loaded"
        except ConfigError:
            ours[name] = "refused"
    assert real == ours == {"missing": "loaded", "undefined": "refused", "loop": "refused"}
