"""Every command the README shows is run here or named with the test that runs it.

A command is each line of a ```sh block (``\\`` continuations joined, comments and blank lines
left out) and each ``$ `` line of a plain ``` block (a shown session). RUN holds those run
here, as written or with the substitution its entry names for what cannot exist here (a
vendor's image, a remote host); COVERED names, for the others, the tests that run them (they
must be collected by that name). A README command in neither fails, so a new example cannot
go untested; a shown session's output is compared with what the command really prints."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
BIN = Path(sys.executable).parent  # `fipscheck`, `pytest` and `python` of this checkout
CNI = "fipscheck/cni-fips:latest"
REFERENCE = "fipscheck/openssl-fips:latest"


def normalised(line: str) -> str:
    """A command without its trailing comment, its blanks collapsed."""
    return " ".join(re.sub(r"\s+#\s.*$", "", line).split())


def readme_commands(text: str = README) -> list[str]:
    """The README's commands, in order: ```sh lines and the `$ ` lines of plain blocks."""
    commands = []
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        if lang not in ("sh", ""):
            continue
        for line in re.sub(r"\\\n\s*", " ", body).splitlines():
            if lang == "" and not line.startswith("$ "):
                continue
            command = normalised(line.removeprefix("$ "))
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def shown_output(command: str) -> list[str]:
    """The lines a shown session prints after its `$ COMMAND` (up to the block's end)."""
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", README, re.S | re.M):
        lines = re.sub(r"\\\n\s*", " ", body).splitlines()
        if lang == "" and lines and normalised(lines[0].removeprefix("$ ")) == command:
            return [line for line in lines[1:] if line.strip()]
    raise AssertionError(f"no session shows {command!r}")


def assert_shows(command: str, printed: str) -> None:
    """Each shown line is printed, in order. The README shortens long lines with `...` (which
    stands for anything) and omits pytest's header; digests and durations differ from build
    to build and run to run."""
    def variable(line: str) -> str:
        line = re.sub(r"sha256:[0-9a-f]{12}", "sha256:DIGEST", line)
        return re.sub(r" in \d+\.\d+s ", " in TIME ", line)
    actual = [variable(line) for line in printed.splitlines()]
    at = 0
    for shown in map(variable, shown_output(command)):
        pattern = re.compile(".*".join(map(re.escape, shown.split("..."))))  # `...`: anything
        found = next((i for i in range(at, len(actual)) if pattern.fullmatch(actual[i])), None)
        assert found is not None, f"{shown!r} not printed after line {at}:\n{printed}"
        at = found + 1


def sh(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A README line through the shell, with this checkout's commands first on PATH."""
    environment = {"PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin", "COLUMNS": "80",
                   "HOME": str(cwd), **env}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=900)


# ---- commands run here: README command -> test function (its substitutions in its docstring)

def scan_gnutls(command, image, tmp_path):
    """As written: the shown report, line by line, exit 1."""
    image("fipscheck/openssl-fips-gnutls:latest")
    done = sh(command, tmp_path)
    assert done.returncode == 1, done.stderr
    assert_shows(command, done.stdout)


def pytest_cni_session(command, image, tmp_path):
    """As written, from an empty directory: the shown session (items, verdict, summary)."""
    image(CNI)
    done = sh(command, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_shows(command, done.stdout)


def pytest_cni_junit(command, image, tmp_path):
    """As written: exit 0 and fips.xml with one test case per check."""
    image(CNI)
    done = sh(command, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "fips.xml").read_text().count("<testcase ") == 18


def vendor_image(command, image, tmp_path):
    """amazon-k8s-cni-fips:v1.21.1 (the seed, a vendor image) -> fipscheck/cni-fips:latest,
    the reference image built after it: exit 0."""
    image(CNI)
    done = sh(command.replace("amazon-k8s-cni-fips:v1.21.1", CNI), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout


def ci_formats(command, image, tmp_path):
    """app:1.2 -> the openssl-fips reference image, $GITHUB_STEP_SUMMARY -> a file: exit 0,
    the three report files, Markdown appended to the summary."""
    image(REFERENCE)
    done = sh(command.replace("app:1.2", REFERENCE, 1), tmp_path,
              GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    assert done.returncode == 0, done.stderr
    assert "<testsuite" in (tmp_path / "fips.xml").read_text()
    assert '"version": "2.1.0"' in (tmp_path / "fips.sarif").read_text()
    assert '"bomFormat": "CycloneDX"' in (tmp_path / "cbom.json").read_text()
    assert "PASS" in (tmp_path / "summary.md").read_text()


def demo_job(image, tmp_path):
    """Its set-up is the session's; its main job, the scan it execs, is run here: exit 0."""
    testbed = (REPO / "scripts" / "testbed").read_text()
    assert f"readonly DEMO_IMAGE={REFERENCE}\n" in testbed
    assert 'demo)  setup "$DEMO_IMAGE"; exec "$VENV/bin/fipscheck" scan "$DEMO_IMAGE" "$@"' in testbed
    image(REFERENCE)
    done = sh(f"fipscheck scan {REFERENCE}", tmp_path)
    assert done.returncode == 0 and done.stdout.startswith(f"fipscheck: PASS image {REFERENCE} ")


def ci_test_job(command):
    """What CI runs (.ci/run), and so what this test runs in."""
    assert f"\n{command} -p no:cacheprovider\n" in (REPO / ".ci" / "run").read_text()


def status_module(command, tmp_path):
    """As written, on this host (its OpenSSL not FIPS): the status report, exit 1."""
    done = sh(command, tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[-1].startswith("verdict: FAIL (")


def preflight_gunicorn(command, tmp_path):
    """As written, on this host (its OpenSSL not FIPS): refused, so gunicorn (not installed)
    is never started; exit 1."""
    done = sh(command, tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "fipscheck: not compliant: gunicorn not started"


def in_seed(command: str, check: Callable[[int, str], object]) -> Callable[..., None]:
    def run(engine, image):
        """In a throwaway container of fipscheck/cni-fips, the reference image built after the
        seed: the result its comment says. Its agent is a static GOFIPS140 Go program where the
        seed's /app/aws-k8s-agent links OpenSSL, so `ldd` asks its OpenSSL-linked `openssl`."""
        script = command.replace("/app/aws-k8s-agent", "/usr/local/openssl/bin/openssl")
        container = engine.containers.create(image(CNI), ["-c", script], entrypoint=["sh"],
                                             network_mode="none")
        try:
            container.start()
            code = container.wait(timeout=120)["StatusCode"]
            output = container.logs().decode()
        finally:
            container.remove(force=True)
        assert check(code, output), (code, output)
    return run


def entrypoint_starts_the_agent(engine, image):
    """/app/entrypoint.sh as the image runs it (with its Cmd, the agent): the agent starts,
    exec'd by fips-startup-check (it serves until stopped)."""
    container = engine.containers.create(image(CNI), network_mode="none")
    try:
        container.start()
        for _ in range(600):  # a bound, not a timing: the agent prints once it runs
            if "cni-agent: fips140=true" in container.logs().decode():
                break
            container.reload()
            assert container.status == "running", container.logs().decode()
            time.sleep(0.2)
        else:
            pytest.fail(container.logs().decode())
        assert container.top()["Processes"][0][-1].startswith("/app/cni-agent")  # PID 1
    finally:
        container.remove(force=True)


RUN: dict[str, Callable[..., None]] = {
    "fipscheck scan fipscheck/openssl-fips-gnutls:latest": scan_gnutls,
    "pytest --fips-image=fipscheck/cni-fips:latest --fips-require-tool=iptables "
    "--fips-require-tool=ipset --fips-require-tool=conntrack -v -rs": pytest_cni_session,
    "pytest --fips-image=fipscheck/cni-fips:latest --junitxml=fips.xml": pytest_cni_junit,
    "pytest --fips-image=amazon-k8s-cni-fips:v1.21.1": vendor_image,
    "fipscheck scan amazon-k8s-cni-fips:v1.21.1": vendor_image,
    "fipscheck scan app:1.2 --format junit=fips.xml --format sarif=fips.sarif "
    '--format cyclonedx=cbom.json --format markdown >> "$GITHUB_STEP_SUMMARY"': ci_formats,
    "scripts/testbed demo": demo_job,
    "scripts/testbed test": ci_test_job,
    "python -m fipscheck": status_module,
    "fipscheck preflight -- gunicorn app:app": preflight_gunicorn,
    "/app/entrypoint.sh": entrypoint_starts_the_agent,
}
# what the seed verifies by hand -> what its comment says it shows
SEED_STEPS: dict[str, Callable[[int, str], object]] = {
    "openssl list -providers":
        lambda code, out: code == 0 and re.search(r"\n  fips\n.*\n.*\n    status: active", out),
    'find / -name "libgnutls*" -o -name "libnettle*" -o -name "libhogweed*"':
        lambda code, out: code == 0 and out == "",
    'ldd /app/aws-k8s-agent | grep -E "libssl|libcrypto"':
        lambda code, out: code == 0 and "libcrypto.so.3 => /usr/local/openssl/lib64/libcrypto.so.3" in out,
    "openssl dgst -md5 /dev/null": lambda code, out: code != 0 and "unsupported" in out,
}
RUN.update({command: in_seed(command, check) for command, check in SEED_STEPS.items()})

# ---- commands run by other tests: README command -> the tests that run them (and why not here)

PLUGIN = "tests/test_pytest_plugin.py::"
COVERED: dict[str, tuple[str, ...]] = {
    # a registry's image by digest: the test registry on loopback, a pushed reference image
    "fipscheck scan registry:ghcr.io/org/app@sha256:...": (
        "tests/test_registry.py::test_by_digest_with_runtime_checks_in_the_engine",),
    "fipscheck scan --rootfs ./unpacked-root": (
        "tests/test_nothing_verified.py::test_the_cli_exits_2_with_the_reason_in_text_and_json",
        "tests/test_packaging.py::test_the_core_and_the_plugin_without_extras"),
    # a running container made for the test
    "fipscheck scan --container aws-node-7x2k": (
        "tests/test_targets_live.py::test_scan_cli_on_a_running_container_reports_tools_and_the_hosts_kernel",),
    # a walk of this whole machine: slow, so once in the suite
    "fipscheck scan --host local://": (
        "tests/test_targets_live.py::test_scan_cli_on_the_local_host",
        "tests/test_hosts.py::test_local_host_runs_every_runtime_check_on_this_machine",
        "tests/test_hosts.py::test_a_host_walk_leaves_out_container_storage_and_roots"),
    "fipscheck scan --host local:// --skip-dir '/opt/vendor/*' --skip-file '*.debug' --timeout 600 -v": (
        "tests/test_scan_options.py::test_skip_globs_leave_directories_and_files_out_and_say_so",
        "tests/test_scan_options.py::test_timeout_ends_a_host_walk_with_an_error_naming_the_limit",
        "tests/test_scan_options.py::test_progress_on_a_terminal_quiet_otherwise"),
    # its exit code depends on what runs killed outright left behind: run where that is made
    "fipscheck cleanup": ("tests/test_lifecycle.py::test_a_run_killed_outright_leaves_nothing_behind",
                          "tests/test_lifecycle.py::test_forged_labels_do_not_make_a_strangers_container_ours"),
    # from an index: the release wheel installed from files, extras declared in its metadata
    "pip install fipscheck": ("tests/test_packaging.py::test_the_core_and_the_plugin_without_extras",
                              "tests/test_packaging.py::test_the_wheel_installs_without_a_compiler_and_runs"),
    **dict.fromkeys(
        ("pip install 'fipscheck[docker]'", "pip install 'fipscheck[host]'",
         "pip install 'fipscheck[pytest,docker]'", "pip install 'fipscheck[all]'"),
        ("tests/test_packaging.py::test_metadata_license_urls_and_light_dependencies",)),
    "pytest --fips-container=aws-node-7x2k": (f"{PLUGIN}test_container_host_and_rootfs_targets",),
    # ssh://admin@node1: a real remote host; here an OpenSSH server in a container on loopback
    "pytest --fips-host=local:// --fips-host=ssh://admin@node1": (
        f"{PLUGIN}test_container_host_and_rootfs_targets",
        "tests/test_hosts.py::test_ssh_host_gets_the_runtime_checks_with_its_checker_copied_in_and_removed"),
    "pytest --fips-rootfs=./unpacked-root": (f"{PLUGIN}test_container_host_and_rootfs_targets",),
    "pytest --fips-image=registry:127.0.0.1:5000/app:1 --fips-insecure-registry "
    "--fips-platform=linux/arm64": (
        "tests/test_registry.py::test_pytest_takes_the_same_sources",),
    "pytest --fips-image=app:1.2 --fips-require-tool=iptables --fips-require-tool=conntrack": (
        f"{PLUGIN}test_a_failure_shows_evidence_and_junit_carries_it",),
}


def test_every_readme_command_is_run_or_covered():
    commands = readme_commands()
    assert len(commands) >= 30  # the extraction still finds the README's blocks
    untested = [c for c in commands if c not in RUN and c not in COVERED]
    assert not untested, f"README commands neither run nor covered by a named test: {untested}"
    assert not set(RUN) & set(COVERED)
    gone = sorted((set(RUN) | set(COVERED)) - set(commands))
    assert not gone, f"no longer in the README: {gone}"


def test_the_extraction_joins_continuations_and_skips_comments_and_output():
    text = ("```sh\n# a comment\n\nfoo --a \\\n    --b   # why\n```\n"
            "```\n$ bar \\\n   --c\noutput\n```\n```yaml\n- run: baz\n```\n")
    assert readme_commands(text) == ["foo --a --b", "bar --c"]


def test_the_covering_tests_exist():
    nodes = sorted({node for nodes in COVERED.values() for node in nodes})
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           *nodes], cwd=REPO, capture_output=True, text=True, timeout=600)
    collected = {line.split("[", 1)[0] for line in done.stdout.splitlines() if "::" in line}
    assert set(nodes) <= collected, (sorted(set(nodes) - collected), done.stdout[-2000:])


@pytest.mark.parametrize("command", list(RUN), ids=list(RUN))
def test_readme_command(command, request):
    run = RUN[command]
    names = run.__code__.co_varnames[:run.__code__.co_argcount]
    run(*(command if name == "command" else request.getfixturevalue(name) for name in names))
