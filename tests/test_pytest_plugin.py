"""The pytest plugin, run by pytester in fresh directories against the real engine and the
cni-fips reference images (used only by these tests and test_targets_live, so that the
containers counted here are certainly this run's: the engine is shared with other runs)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from conftest import host_fips_enabled, not_another_live_run

from fipscheck.runner import select_checks
from fipscheck.targets.engine import owned_containers

CNI = "fipscheck/cni-fips:latest"
NO_CONNTRACK = "fipscheck/cni-fips-no-conntrack:latest"
CNI_TOOLS = ("--fips-require-tool=iptables", "--fips-require-tool=ipset",
             "--fips-require-tool=conntrack")
README = Path(__file__).resolve().parent.parent / "README.md"
CHECKS = len(select_checks())


def cni_containers(engine) -> set[str]:
    """fipscheck's containers of the cni-fips images, except those of other runs still going
    on the shared engine."""
    return {c.id for c in owned_containers(engine, {"ancestor": [CNI, NO_CONNTRACK]})
            if not_another_live_run(c)}


@pytest.fixture
def cni_leaks(engine):
    """Fails the test if a container of the cni-fips images is left behind."""
    before = cni_containers(engine)
    yield
    assert cni_containers(engine) <= before, "containers left behind"


def readme_example() -> str:
    text = README.read_text()
    return re.search(r"<!-- example: test_cni_image.py -->\n```python\n(.*?)```", text, re.S).group(1)


def test_every_applicable_check_passes_on_cni_fips_from_an_empty_directory(pytester, image, cni_leaks):
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(f"--fips-image={image(CNI)}", *CNI_TOOLS,
                                           "-p", "no:cacheprovider", "-v", "-rs", f"--junitxml={junit}",
                                           "-o", "junit_family=xunit1")  # testcase properties
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0
    assert outcomes["passed"] + outcomes.get("skipped", 0) == CHECKS
    result.stdout.fnmatch_lines([
        f"fips[[]{CNI}]::openssl.fips-provider PASSED*",
        f"fips[[]{CNI}]::tools.required PASSED*",
        f"{CNI}: PASS (* pass, 0 fail, 0 error, * skip*)",
        f"SKIPPED [[]1] fips[[]{CNI}]::kernel.fips: *host kernel's*"])
    xml = junit.read_text()
    for check in select_checks():
        assert f'name="fips_check" value="{check.id}"' in xml
    assert "/usr/sbin/conntrack" in xml  # tools.required's evidence


def test_a_failure_shows_evidence_and_junit_carries_it(pytester, image, cni_leaks):
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(f"--fips-image={image(NO_CONNTRACK)}", *CNI_TOOLS,
                                           "-k", "tools", f"--junitxml={junit}", "-o", "junit_family=xunit1")
    result.assert_outcomes(failed=1, deselected=CHECKS - 1)
    result.stdout.fnmatch_lines(["*tools.required: FAIL: not on PATH: conntrack*",
                                 '*"missing": [[]*', '*"conntrack"*'])
    assert "Traceback" not in result.stdout.str()
    xml = junit.read_text()
    assert 'name="fips_status" value="fail"' in xml and "xtables-nft-multi" in xml


def test_an_unreachable_image_is_one_error_not_a_skip_nor_one_per_check(pytester):
    result = pytester.runpytest_subprocess("--fips-image=fipscheck/no-such-image:never",
                                          "--fips-pull=never", "--junitxml=out.xml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*: ERROR: cannot open fipscheck/no-such-image:never, so none of its checks ran: no such image*",
        "fipscheck/no-such-image:never: ERROR (0 pass, 0 fail, 1 error, 0 skip)"])
    assert (pytester.path / "out.xml").read_text().count("<testcase ") == 1


def test_a_failed_items_id_reruns_it_and_v_and_ra_show_each_message(pytester, image, cni_leaks,
                                                                     monkeypatch):
    """The ID pytest prints (and IDEs re-run by) is accepted back as an argument, with its
    target taken from the ID; -v and -rA print every check's message."""
    monkeypatch.setenv("COLUMNS", "250")  # the summary's messages are cut to the terminal's width
    first = pytester.runpytest_subprocess(f"--fips-image={image(NO_CONNTRACK)}", *CNI_TOOLS, "-q")
    failed = re.search(r"^FAILED (\S+::tools\.required)", first.stdout.str(), re.M).group(1)
    assert failed == f"fips[{NO_CONNTRACK}]::tools.required"
    again = pytester.runpytest_subprocess(failed, f"fips[{NO_CONNTRACK}]::openssl.config", *CNI_TOOLS,
                                          "-v", "-rA")
    again.assert_outcomes(failed=1, passed=1, deselected=CHECKS - 2)
    again.stdout.fnmatch_lines([
        f"fips[[]{NO_CONNTRACK}]::openssl.config PASSED*",
        "    /usr/local/openssl/ssl/openssl.cnf activates the FIPS provider with fips=yes*",
        f"fips[[]{NO_CONNTRACK}]::tools.required FAILED*",
        "    not on PATH: conntrack*",
        f"PASSED fips[[]{NO_CONNTRACK}]::openssl.config - /usr/local/openssl/ssl/openssl.cnf*",
        f"FAILED fips[[]{NO_CONNTRACK}]::tools.required - tools.required: FAIL: not on PATH: conntrack*"])
    unknown = pytester.runpytest_subprocess(f"fips[{NO_CONNTRACK}]::tools.requird")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["*tools.requird*did you mean tools.required?*"])


def test_ini_options_and_keyword_selection(pytester, image, cni_leaks):
    pytester.makeini(f"[pytest]\nfips_image = {image(CNI)}\nfips_require_tool = iptables conntrack\n")
    selected = pytester.runpytest_subprocess("-k", "tools", "-v")
    selected.assert_outcomes(passed=1, deselected=CHECKS - 1)
    selected.stdout.fnmatch_lines([f"fips[[]{CNI}]::tools.required PASSED*"])
    assert pytester.runpytest_subprocess("-m", "not fips").ret == 5  # nothing else to run


def test_fixtures_skip_without_a_target(pytester):
    pytester.makepyfile(test_cni_image=readme_example())
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=6)
    result.stdout.fnmatch_lines(["*no fipscheck target given: use --fips-image*"])


@contextmanager
def containers_created(engine, images: set[str]):
    """Collects (creating pid, image ID) of the containers of ours created from these images
    while the block runs, from the engine's live event stream (its history is too short on a
    busy engine). fipscheck creates its containers by image ID."""
    ids = {engine.images.get(name).id for name in images}
    created: list[tuple[str, str]] = []
    stream = engine.events(decode=True, filters={"type": "container", "event": "create",
                                                 "label": "org.fipscheck.owner=fipscheck"})

    def collect() -> None:
        with suppress(Exception):  # closing the stream ends the iteration with an error
            for event in stream:
                labels = event["Actor"]["Attributes"]
                if labels.get("image") in ids:
                    created.append((labels["org.fipscheck.pid"], labels["image"]))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        yield created
    finally:
        time.sleep(1)  # the last events reach the stream after the run ends
        stream.close()
        reader.join(timeout=10)


def test_readme_example_over_two_images_with_xdist(pytester, engine, image, cni_leaks):
    pytester.makepyfile(test_cni_image=readme_example())
    pids = pytester.path / "pids"  # of the run's processes: controller and workers
    pytester.makeconftest(f"import os\n\ndef pytest_configure(config):\n"
                          f"    with open({str(pids)!r}, 'a') as f:\n"
                          f"        f.write(f'{{os.getpid()}}\\n')\n")
    with containers_created(engine, {CNI, NO_CONNTRACK}) as created:
        result = pytester.runpytest_subprocess(f"--fips-image={image(CNI)}",
                                               f"--fips-image={image(NO_CONNTRACK)}", *CNI_TOOLS,
                                               "-n", "2", "-p", "no:cacheprovider", "-rf")
    # Everything passes on cni-fips; the twin fails tools.required and, through fips_report,
    # the example's test_no_check_failed.
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 2 and "errors" not in outcomes
    assert outcomes["passed"] + outcomes["skipped"] == 2 * (CHECKS + 6) - 2
    result.stdout.fnmatch_lines_random([
        "*created: 2/2 workers*",
        f"FAILED fips[[]{NO_CONNTRACK}]::tools.required*",
        f"FAILED test_cni_image.py::test_no_check_failed[[]{NO_CONNTRACK}]*",
        "E  *assert not [[]('tools.required', 'not on PATH: conntrack')]",
        f"{CNI}: PASS*", f"{NO_CONNTRACK}: FAIL (*, 1 fail, 0 error, *)"])
    ours = [(pid, img) for pid, img in created if pid in pids.read_text().split()]
    # each image created (and exported) once: its items and tests ran on one worker
    assert sorted(img for _, img in ours) == sorted(engine.images.get(n).id for n in (CNI, NO_CONNTRACK))


WAIT_IN_A_TEST = """
import os, time

def test_waits(fips_target):
    with open(os.environ["READY"], "w") as ready:
        ready.write(fips_target.container_id)
    time.sleep(120)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_removes_its_container(pytester, engine, image, sig, cni_leaks):
    pytester.makepyfile(test_wait=WAIT_IN_A_TEST)
    ready = pytester.path / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                             f"--fips-image={image(CNI)}", "-m", "not fips"],
                            cwd=pytester.path, env={**os.environ, "READY": str(ready)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (ready.exists() and ready.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
        time.sleep(0.1)
    container_id = ready.read_text()
    assert engine.containers.get(container_id)
    proc.send_signal(sig)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 2, output  # pytest's "interrupted"
    assert container_id not in cni_containers(engine)


USES_EVERY_KIND = """
def test_runs_commands(fips_host):
    assert fips_host.run("echo ok").stdout == "ok\\n"

def test_runs_native(fips_native):
    run = fips_native()
    assert run.exit_code in (0, 1) and run.report["schema_version"] == 1
"""


def test_container_host_and_rootfs_targets(pytester, running, cni_leaks):
    cni = running(CNI)
    container = cni.name
    root = pytester.path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin/sh").write_bytes(b"\x7fELF")
    (root / "bin/sh").chmod(0o755)
    pytester.makepyfile(test_kinds=USES_EVERY_KIND)
    result = pytester.runpytest_subprocess(
        f"--fips-container={container}", f"--fips-host=docker://{container}",
        "--fips-host=local://", f"--fips-rootfs={root}", "--fips-require-tool=sh",
        "-k", "kernel or tools or runs_", "-v", "-rs", "-p", "no:cacheprovider")
    kernel_on_host = "PASSED" if host_fips_enabled() == "1" else "FAILED"
    result.stdout.fnmatch_lines_random([
        f"fips[[]container:{container}]::kernel.fips SKIPPED*",
        f"fips[[]container:{container}]::tools.required PASSED*",
        f"fips[[]host:docker://{container}]::tools.required PASSED*",
        f"fips[[]host:local://]::kernel.fips {kernel_on_host}*",
        "fips[[]host:local://]::tools.required PASSED*",
        f"fips[[]rootfs:{root}]::kernel.fips SKIPPED*",
        f"fips[[]rootfs:{root}]::tools.required PASSED*",
        f"test_kinds.py::test_runs_commands[[]container:{container}] PASSED*",
        f"test_kinds.py::test_runs_commands[[]host:docker://{container}] PASSED*",
        "test_kinds.py::test_runs_commands[[]host:local://] PASSED*",
        f"test_kinds.py::test_runs_commands[[]rootfs:{root}] SKIPPED*",
        f"test_kinds.py::test_runs_native[[]container:{container}] PASSED*",
        "test_kinds.py::test_runs_native[[]host:local://] PASSED*",
        f"test_kinds.py::test_runs_native[[]host:docker://{container}] PASSED*",
        f"test_kinds.py::test_runs_native[[]rootfs:{root}] SKIPPED*",
        "SKIPPED*cannot run commands*"])
    # the checker copied into docker:// went again at the end of the session
    assert cni.exec_run(["sh", "-c", "ls -d /tmp/fipscheck.*"]).exit_code != 0
