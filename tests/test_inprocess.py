"""fipscheck.status()/require() and the status/preflight commands on real processes: this
non-FIPS host, and the python-fips image's own interpreter running fipscheck inside it."""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import fipscheck
from fipscheck import NotCompliantError, Status
from fipscheck.checks import INDEX
from fipscheck.inprocess import PROCESS_CHECKS

PYTHON_FIPS = "fipscheck/python-fips:latest"
DIGESTS = ("md5", "sha1", "sha256", "sha3_256", "blake2b", "ripemd160")
# What this bookworm host (OpenSSL 3.0, default provider only) fails.
HOST_FAILURES = {"algorithms.non-approved", "openssl.fips-mode", "openssl.fips-provider",
                 "python.hashlib", "python.ssl"}


def fipscheck_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fipscheck", *args], capture_output=True,
                          text=True, timeout=120)


def mapped_libcrypto() -> str:
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/libcrypto.so" in line}
    assert len(paths) == 1, paths
    return paths.pop()


def openssl_state() -> dict:
    """What OpenSSL and hashlib look like to this process, observed independently of
    fipscheck: default properties, the loaded providers, what serves each digest."""
    libcrypto = ctypes.CDLL(mapped_libcrypto())
    libcrypto.OSSL_PROVIDER_get0_name.restype = ctypes.c_char_p
    names: list[str] = []
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

    def collect(provider, _arg):
        names.append(libcrypto.OSSL_PROVIDER_get0_name(ctypes.c_void_p(provider)).decode())
        return 1
    libcrypto.OSSL_PROVIDER_do_all(None, callback_type(collect), None)
    served = {}
    for name in DIGESTS:
        try:
            served[name] = type(hashlib.new(name)).__module__
        except ValueError:
            served[name] = "refused"
    return {"fips_properties": libcrypto.EVP_default_properties_is_fips_enabled(None),
            "providers": sorted(names), "served": served, "libcrypto": mapped_libcrypto()}


# Nothing of this is needed to check the process: the Docker and host clients, the image
# sources, the walk of the files, the package database, the renderers, TOML.
NOT_FOR_A_PROCESS = ("docker", "requests", "testinfra", "tomllib", "fipscheck.targets.sources",
                     "fipscheck.probes.inventory", "fipscheck.probes.packages",
                     "fipscheck.renderers", "fipscheck.cli")


def test_status_imports_only_what_the_process_checks_need():
    code = "import sys, fipscheck; fipscheck.status(); print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True, timeout=120).stdout.split())
    assert not {m for m in loaded if m.startswith(NOT_FOR_A_PROCESS)}
    assert {m for m in loaded if m.startswith("fipscheck.checks.")} == {
        f"fipscheck.checks.{INDEX[i]}" for i in PROCESS_CHECKS}


@pytest.fixture(scope="module")
def host_report():
    return fipscheck.status()


def test_host_report_is_a_correct_non_fips_report(host_report):
    assert host_report.target["kind"] == "process"
    assert host_report.target["executable"] == sys.executable
    assert host_report.verdict is Status.FAIL
    checks = {r.id: r for r in host_report.checks}
    hashlib_result = checks["python.hashlib"]
    assert hashlib_result.status is Status.FAIL
    assert "not in FIPS mode" in hashlib_result.message
    facts = hashlib_result.evidence["interpreters"][sys.executable]
    assert facts["fips_mode"] == 0
    assert facts["served"]["hashlib.md5()"] == "_hashlib"  # the host's OpenSSL serves MD5
    ssl_result = checks["python.ssl"]
    assert ssl_result.status is Status.FAIL
    ssl_facts = ssl_result.evidence["interpreters"][sys.executable]
    assert ssl_facts["libcrypto_loaded"] == [mapped_libcrypto()]
    assert ssl_facts["fips_provider_loaded"] == []
    # the native checker looked at that same library, the one _hashlib loaded
    native = checks["openssl.fips-provider"]
    assert native.status is Status.FAIL
    assert native.evidence["libcrypto"]["path"] == mapped_libcrypto()
    assert [p["configured_name"] for p in native.evidence["providers"]] == ["default"]
    assert checks["openssl.fips-mode"].status is Status.FAIL
    assert checks["algorithms.approved"].status is Status.PASS  # SHA-256 & co. work anyway
    assert checks["algorithms.non-approved"].status is Status.FAIL
    assert "MD5" in checks["algorithms.non-approved"].message


def test_status_leaves_the_process_openssl_state_unchanged():
    before = openssl_state()
    fipscheck.status()
    between = openssl_state()
    fipscheck.status()
    assert before == between == openssl_state()
    assert before["providers"] == ["default"] and before["fips_properties"] == 0


def test_require_raises_listing_each_failed_check():
    with pytest.raises(NotCompliantError) as raised:
        fipscheck.require()
    message = str(raised.value)
    assert "python.hashlib: FAIL:" in message and "python.ssl: FAIL:" in message
    assert {r.id for r in raised.value.failed} == HOST_FAILURES
    with pytest.raises(NotCompliantError) as only_ssl:
        fipscheck.require(["python.ssl"])
    assert [r.id for r in only_ssl.value.failed] == ["python.ssl"]
    with pytest.raises(ValueError, match="not a check of the process"):
        fipscheck.require(["libraries.banned"])


def test_status_command_and_module_print_the_same_report():
    module = fipscheck_command()
    command = fipscheck_command("status")
    assert module.returncode == command.returncode == 1
    strip_pid = [line for line in module.stdout.splitlines() if not line.startswith("fipscheck:")]
    assert strip_pid == [line for line in command.stdout.splitlines()
                         if not line.startswith("fipscheck:")]
    assert strip_pid[-1].startswith("verdict: FAIL (")
    as_json = json.loads(fipscheck_command("status", "--format", "json").stdout)
    assert as_json["target"]["kind"] == "process"


def test_preflight_refuses_to_run_the_command_when_not_compliant():
    done = fipscheck_command("preflight", "--", "echo", "ran")
    assert done.returncode == 1
    assert done.stdout == ""
    *lines, last = done.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        f"FAIL {check_id}" for check_id in sorted(HOST_FAILURES)]
    assert last == "fipscheck: not compliant: echo not started"


def test_preflight_execs_the_command_when_the_required_checks_pass():
    process = subprocess.Popen(
        [sys.executable, "-m", "fipscheck", "preflight", "--check", "algorithms.approved", "--",
         "sh", "-c", "echo $$; exit 3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 3, err
    assert out.split() == [str(process.pid)]
    assert err == ""


def test_preflight_warn_only_execs_the_command_in_its_own_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "fipscheck", "preflight", "--warn-only", "--",
         "sh", "-c", "echo $$; exit 7"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 7  # the command's own exit code
    assert out.split() == [str(process.pid)]  # exec'd: same PID, not a child
    assert "FAIL python.hashlib" in err


# Top-level packages and modules `import fipscheck.cli` loads from outside the standard library.
LOADED_PACKAGES = """
import sys, sysconfig, fipscheck.cli
stdlib = sysconfig.get_paths()["stdlib"]
for name, module in sorted(sys.modules.items()):
    where = (getattr(module, "__path__", None) or [getattr(module, "__file__", None)])[0]
    if "." not in name and where and not where.startswith(stdlib) or name == "fipscheck":
        print(where)
"""


def copy_fipscheck_into(container) -> None:
    """Put fipscheck and the pure-Python packages its CLI imports into /opt/fipscheck, as
    an installation inside the image would (compiled extensions of this host's Python are
    left out: the image's interpreter could not load them)."""
    roots = [Path(p) for p in subprocess.run([sys.executable, "-c", LOADED_PACKAGES],
                                             capture_output=True, text=True,
                                             check=True).stdout.split()]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for root in roots:
            archive.add(root, f"opt/fipscheck/{root.name}",
                        filter=lambda m: None if m.name.endswith((".so", ".pyc")) else m)
    container.put_archive("/", buffer.getvalue())


@pytest.fixture(scope="module")
def fipscheck_in(engine, image):
    """Run fipscheck's CLI with an image's own interpreter, inside a container."""
    def run(name: str, *args: str) -> tuple[int, str, str]:
        container = engine.containers.create(
            image(name), entrypoint=["python3", "-m", "fipscheck", *args],
            environment={"PYTHONPATH": "/opt/fipscheck"}, network_mode="none")
        try:
            copy_fipscheck_into(container)
            container.start()
            code = container.wait(timeout=120)["StatusCode"]
            return (code, container.logs(stderr=False).decode(),
                    container.logs(stdout=False).decode())
        finally:
            container.remove(force=True)
    return run


def test_status_inside_python_fips_passes_the_python_checks(fipscheck_in):
    code, out, err = fipscheck_in(PYTHON_FIPS, "status", "--format", "json")
    report = json.loads(out)
    checks = {c["id"]: c["status"] for c in report["checks"]}
    assert checks["python.hashlib"] == checks["python.ssl"] == "pass", out
    assert report["target"]["executable"] == "/usr/local/bin/python3"
    assert code == {"pass": 0, "fail": 1}.get(report["verdict"], 2), err


def test_preflight_execs_the_command_when_compliant(fipscheck_in):
    code, out, err = fipscheck_in(PYTHON_FIPS, "preflight", "--check", "python.hashlib",
                                    "--check", "python.ssl", "--", "sh", "-c", "echo $$; exit 3")
    assert code == 3, err
    assert out.split() == ["1"]  # exec'd as the container's first process


def test_status_finds_a_bundled_cryptography_without_importing_it(fipscheck_in,
                                                                   cryptography_wheel_image):
    """In-process, cryptography is read, not imported (a build on the system libcrypto loads
    OpenSSL's legacy provider into it at import when not in FIPS mode)."""
    _, out, err = fipscheck_in(cryptography_wheel_image, "status", "--format", "json")
    checks = {c["id"]: c for c in json.loads(out)["checks"]}
    ssl_result = checks["python.ssl"]
    assert ssl_result["status"] == "fail", err
    assert "carries its own OpenSSL " in ssl_result["message"]
    package = ssl_result["evidence"]["interpreters"]["/usr/local/bin/python3"]["cryptography"]
    assert "fips_enabled" not in package  # its backend was never loaded
    assert checks["python.hashlib"]["status"] == "pass"
