"""The README's examples, run as written: the entrypoint preflight's multi-stage Dockerfile
(built for real, with reference images in place of its two FROM images), the scan lines of
the CI jobs, the plugin's node ID form, and the commands' --help and --version."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

import fipscheck
from fipscheck.native import executable_path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
FIPSCHECK = str(Path(sys.executable).with_name("fipscheck"))
REFERENCE = "fipscheck/openssl-fips:latest"
# `FROM python:3.13-slim`: a Debian Python where `pip install fipscheck` installs this
# checkout's wheel offline (PIP_* settings), as an index would serve it
PYTHON_WITH_WHEELS = """FROM fipscheck/python-trixie:latest
COPY wheels /wheels
ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 "$(ls /wheels/pip-*.whl)/pip" install --quiet /wheels/pip-*.whl
"""
# `FROM registry.example/app:1.2`: the FIPS reference image with an /app/server
APP = f"""FROM {REFERENCE}
RUN mkdir -p /app && printf '#!/bin/sh\\necho "server started as $$"\\n' > /app/server \\
 && chmod 755 /app/server
"""


def example(name: str) -> str:
    return re.search(rf"<!-- example: {re.escape(name)} -->\n```\w+\n(.*?)```", README, re.S).group(1)


def build(engine, dockerfile: str, files: dict[str, bytes] | None = None) -> str:
    """Build a throwaway image from a Dockerfile (and files of its context); its ID."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        for name, data in {"Dockerfile": dockerfile.encode(), **(files or {})}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    built, _ = engine.images.build(fileobj=io.BytesIO(context.getvalue()), custom_context=True,
                                   network_mode="none", rm=True, forcerm=True,
                                   tag=f"fipscheck-test/readme:{uuid.uuid4().hex[:12]}")
    return built.tags[0]


def test_the_preflight_dockerfile_builds_and_starts_the_app_only_when_compliant(
        engine, image, release, tmp_path):
    image("fipscheck/python-trixie:latest")
    image(REFERENCE)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                    "--python-version", "3.13", "--platform", "manylinux2014_x86_64", "--dest",
                    str(wheels), str(release["x86_64"]), "pip"], check=True, timeout=600)
    files = {f"wheels/{w.name}": w.read_bytes() for w in wheels.iterdir()}
    made = [build(engine, PYTHON_WITH_WHEELS, files), build(engine, APP)]
    try:
        dockerfile = example("Dockerfile.preflight")
        dockerfile = dockerfile.replace("FROM python:3.13-slim ", f"FROM {made[0]} ", 1)
        dockerfile = dockerfile.replace("FROM registry.example/app:1.2\n", f"FROM {made[1]}\n", 1)
        made.append(build(engine, dockerfile))
        passed = engine.containers.run(made[2], remove=True, network_mode="none", stderr=True)
        assert passed.decode().startswith("server started as 1")  # exec'd: the first process
        refused = engine.containers.create(made[2], network_mode="none",
                                           environment={"OPENSSL_CONF": "/dev/null"})
        try:
            refused.start()
            assert refused.wait(timeout=120)["StatusCode"] == 1
            lines = refused.logs().decode().splitlines()
        finally:
            refused.remove(force=True)
        assert lines[-1] == "fips-startup-check: not compliant: /app/server not started"
        assert all(re.fullmatch(r"fips-startup-check: (FAIL|ERROR) \S+( \S+)*: .+", line)
                   for line in lines[:-1])
    finally:
        for name in reversed(made):
            engine.images.remove(name, force=True)


@pytest.mark.parametrize("job", [".github/workflows/fips.yml", ".gitlab-ci.yml"])
def test_the_ci_jobs_scan_line_writes_junit_and_sarif(image, job, tmp_path, no_leaks):
    (line,) = [s.split("- ", 1)[-1].split("run: ", 1)[-1] for s in example(job).splitlines()
               if "fipscheck scan" in s]
    words = shlex.split(line.split(">>")[0])
    assert words[:3] == ["fipscheck", "scan", "$IMAGE"]
    done = subprocess.run([FIPSCHECK, "scan", image(REFERENCE), *words[3:]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "fips.sarif").read_text())["version"] == "2.1.0"
    assert "<testsuite" in (tmp_path / "fips.xml").read_text()


def test_help_lists_examples_exit_codes_and_checks():
    for command in (["--help"], ["scan", "--help"]):
        done = subprocess.run([FIPSCHECK, *command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stderr == ""
        assert "examples:" in done.stdout and "exit codes:" in done.stdout
        assert "  openssl.fips-provider " in done.stdout and "  130, 143  interrupted" in done.stdout


def test_the_native_checkers_help_and_version_go_to_stdout():
    checker = str(executable_path())
    shown = subprocess.run([checker, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and shown.stderr == ""
    assert shown.stdout.startswith("usage: fips-startup-check")
    assert "exit codes:" in shown.stdout and "openssl.module-integrity" in shown.stdout
    version = subprocess.run([checker, "--version"], capture_output=True, text=True, timeout=60)
    assert (version.returncode, version.stdout) == (0, f"fips-startup-check {fipscheck.__version__}\n")


def test_the_c_and_python_preflights_word_failures_alike():
    """On this host (OpenSSL without FIPS) both refuse: one pattern for logs to match."""
    pattern = r"(fips-startup-check|fipscheck): (FAIL|ERROR|SKIP) \S+( \S+)*: .+"
    native = subprocess.run([str(executable_path()), "--", "true"], capture_output=True, text=True,
                            timeout=60)
    python = subprocess.run([FIPSCHECK, "preflight", "--", "true"], capture_output=True, text=True,
                            timeout=120)
    for done, program in ((native, "fips-startup-check"), (python, "fipscheck")):
        *failures, last = done.stderr.splitlines()
        assert done.returncode == 1 and failures, done.stderr
        assert all(re.fullmatch(pattern, line) for line in failures), failures
        assert last == f"{program}: not compliant: true not started"
