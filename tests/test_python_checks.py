"""python.hashlib and python.ssl inside real images, run with the image's own interpreter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fipscheck import Policy, Status, scan
from fipscheck.probes import python_interpreter
from fipscheck.targets import ImageTarget

PYTHON_FIPS = "fipscheck/python-fips:latest"
DEBIAN_PYTHON = "fipscheck/python-fips-debian-python:latest"
NO_PYTHON = "fipscheck/openssl-fips:latest"
LIBCRYPTO = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
FIPS_PROVIDER = "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"


def python_checks(name: str, policy: Policy | None = None) -> dict:
    with ImageTarget(name) as target:
        report = scan(target, policy, checks=["python.hashlib", "python.ssl"])
    return {result.id: result for result in report.checks}


@pytest.fixture(scope="module")
def checked(image):
    """The python checks' results per reference image, each image scanned once."""
    results: dict[str, dict] = {}

    def of(name: str) -> dict:
        if name not in results:
            results[name] = python_checks(image(name))
        return results[name]
    return of


def test_pytest_plugin_passes_the_python_checks_on_python_fips(pytester, image, no_leaks):
    result = pytester.runpytest_subprocess(f"--fips-image={image(PYTHON_FIPS)}",
                                           "-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines([f"fips[[]{PYTHON_FIPS}]::python.hashlib PASSED*",
                                 f"fips[[]{PYTHON_FIPS}]::python.ssl PASSED*"])


def test_python_fips_refuses_md5_with_no_builtin_fallback(checked):
    result = checked(PYTHON_FIPS)["python.hashlib"]
    assert result.status is Status.PASS, result.message
    facts = result.evidence["interpreters"]["/usr/local/bin/python3"]
    assert facts["python"]["version"].startswith("3.13.")
    assert facts["fips_mode"] == 1
    assert {"md5", "blake2b", "blake2s", "md4"} <= set(facts["refused"])
    assert facts["served"]["hashlib.new('sha256')"] == "_hashlib"
    assert "hashlib.md5()" not in facts["served"]  # no constructor at all: nothing to fall back to
    # usedforsecurity=False fetches without fips=yes, but only FIPS and base providers exist
    assert facts["usedforsecurity_false"]["md5"] == "refused"


@pytest.mark.parametrize(("name", "interpreter", "ssl_module"), [
    (PYTHON_FIPS, "/usr/local/bin/python3", "/usr/local/lib/python3.13/lib-dynload/_ssl."),
    (DEBIAN_PYTHON, "/usr/bin/python3", "/usr/lib/python3.13/lib-dynload/_ssl."),
])
def test_ssl_runs_on_the_fips_libcrypto(checked, name, interpreter, ssl_module):
    """Both images pass: the twin differs from python-fips only in hashlib."""
    result = checked(name)["python.ssl"]
    assert result.status is Status.PASS, result.message
    facts = result.evidence["interpreters"][interpreter]
    assert facts["libcrypto_loaded"] == [LIBCRYPTO]
    assert facts["fips_provider_loaded"] == [FIPS_PROVIDER]
    assert facts["openssl_version"].startswith("OpenSSL 3.5.")
    assert facts["ssl_module"].startswith(ssl_module)
    assert facts["tls_client_context"] == "created"


def test_debian_cryptography_uses_the_system_libcrypto_in_fips_mode(checked):
    facts = checked(DEBIAN_PYTHON)["python.ssl"].evidence["interpreters"]["/usr/bin/python3"]
    package = facts["cryptography"]
    assert package["binding"].startswith("/usr/lib/python3/dist-packages/cryptography/")
    assert package["links_libcrypto_so"] is True
    assert package["fips_enabled"] is True
    assert package["openssl_version"].startswith("OpenSSL 3.5.")


def test_cryptography_wheel_fails_ssl_naming_its_bundled_openssl(cryptography_wheel_image, no_leaks):
    results = python_checks(cryptography_wheel_image)
    assert results["python.hashlib"].status is Status.PASS  # the twin breaks one property
    result = results["python.ssl"]
    assert result.status is Status.FAIL
    assert "carries its own OpenSSL " in result.message
    package = result.evidence["interpreters"]["/usr/local/bin/python3"]["cryptography"]
    assert package["links_libcrypto_so"] is False
    assert package["openssl_version"].startswith(package["openssl_banner"] + " ")
    # its backend even says FIPS (the system's openssl.cnf asks for fips=yes), which is
    # why fipscheck looks at the library it carries, not only at what it reports
    assert package["fips_enabled"] is True


def test_a_policy_without_sha1_fails_python_fips_on_sha1(image, no_leaks):
    result = python_checks(image(PYTHON_FIPS), Policy(allow_sha1=False))["python.hashlib"]
    assert result.status is Status.FAIL
    assert result.message == "/usr/local/bin/python3: sha1 served by OpenSSL although not approved"


def test_debian_python_fails_hashlib_naming_md5_and_its_builtin(checked):
    result = checked(DEBIAN_PYTHON)["python.hashlib"]
    assert result.status is Status.FAIL
    assert "/usr/bin/python3: " in result.message
    assert "md5 served by the builtin _md5" in result.message
    facts = result.evidence["interpreters"]["/usr/bin/python3"]
    assert facts["fips_mode"] == 1  # OpenSSL is in FIPS mode, yet hashlib.md5() works
    assert facts["served"]["hashlib.md5()"] == "_md5"
    assert facts["served"]["hashlib.new('sha256')"] == "_hashlib"


def test_image_without_python_skips_with_the_places_searched(image, no_leaks):
    results = python_checks(image(NO_PYTHON))
    for result in results.values():
        assert result.status is Status.SKIP
        assert "no Python 3 interpreter" in result.message
        assert "/usr/local/bin" in result.evidence["searched"]


# A TLS 1.3 handshake with itself over a socket pair, then a non-approved cipher asked for.
HANDSHAKE = r"""
cd /tmp && openssl req -x509 -newkey rsa:3072 -nodes -keyout key.pem -out cert.pem \
    -subj /CN=localhost -days 1 2>/dev/null
python3 - 2>/dev/null <<'PY'
import socket, ssl, threading
server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server.load_cert_chain("cert.pem", "key.pem")
client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
client.load_verify_locations("cert.pem")
left, right = socket.socketpair()
def echo():
    with server.wrap_socket(left, server_side=True) as s:
        s.sendall(s.recv(5))
thread = threading.Thread(target=echo)
thread.start()
with client.wrap_socket(right, server_hostname="localhost") as c:
    c.sendall(b"hello")
    print("echo", c.recv(5).decode(), c.version(), c.cipher()[0])
thread.join()
try:
    server.set_ciphers("CHACHA20")
    print("chacha20 accepted")
except ssl.SSLError:
    print("chacha20 refused")
PY
"""


def test_python_fips_tls_handshake_works_with_approved_ciphers_only(image, run_in):
    code, output = run_in(image(PYTHON_FIPS), HANDSHAKE)
    assert code == 0, output
    assert output.split("\n")[:2] == ["echo hello TLSv1.3 TLS_AES_256_GCM_SHA384",
                                      "chacha20 refused"]


def test_probe_script_keeps_to_python_3_6_syntax():
    """It runs with whatever Python an image has; Python 3.9 (bullseye) was tried by hand."""
    source = Path(python_interpreter.__file__).read_text()
    ast.parse(source, feature_version=(3, 6))
    assert "from __future__ import annotations" not in source  # 3.7+
