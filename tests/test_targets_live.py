"""ContainerTarget and HostTarget against the real engine, the cni-fips reference image and
this machine itself (``local://``); docker:// and local:// in depth: test_hosts.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import containers_created_since, host_fips_enabled

from fipscheck import Policy, Status
from fipscheck.errors import TargetError
from fipscheck.runner import scan
from fipscheck.targets import open_target

CNI = "fipscheck/cni-fips:latest"
CNI_TOOLS = ("iptables", "ipset", "conntrack")


@pytest.fixture(scope="module")
def cni_container(running):
    return running(CNI)


def test_container_target_probes_a_running_container_and_leaves_it_as_it_was(engine, cni_container):
    started = time.time()
    with open_target("container", cni_container.name) as target:
        assert target.config.env["OPENSSL_CONF"] == "/usr/local/openssl/ssl/openssl.cnf"
        assert target.config.entrypoint == ("/app/entrypoint.sh",)
        # the export is the container as it is now, its writable layer included
        assert cni_container.exec_run(["sh", "-c", "echo run > /tmp/state"]).exit_code == 0
        assert target.filesystem.read_text("/tmp/state") == "run\n"
        assert target.filesystem.is_file("/usr/local/openssl/lib64/ossl-modules/fips.so")
        assert target.exec(["cat", "/proc/1/cmdline"]).stdout.split(b"\0")[0] == b"/app/cni-agent"
        target.put_file("/.fipscheck/probe", b"#!/bin/sh\necho probed\n")
        assert target.exec(["/.fipscheck/probe"]).text == "probed\n"
    cni_container.reload()
    assert cni_container.status == "running"
    assert containers_created_since(engine, started) == []
    assert cni_container.exec_run(["test", "-e", "/.fipscheck/probe"]).exit_code == 1


def test_a_stopped_or_missing_container_is_a_target_error(engine, image):
    stopped = engine.containers.create(image(CNI), network_mode="none")
    try:
        with pytest.raises(TargetError, match="created, not running"):
            open_target("container", stopped.name)
    finally:
        stopped.remove(force=True)
    with pytest.raises(TargetError, match="no such container"):
        open_target("container", "fipscheck-no-such-container")


def test_local_host_reads_this_machines_kernel_and_root():
    with open_target("host", "local://") as target:
        report = scan(target, Policy(required_tools=("sh",)), checks=["kernel.fips", "tools.required"])
        assert target.filesystem.root == Path("/")
        assert {"/proc", "/sys", "/dev"} <= target.filesystem.prune
    kernel, tools = report.checks
    assert kernel.evidence["fips_enabled"] == host_fips_enabled()
    assert kernel.status is (Status.PASS if host_fips_enabled() == "1" else Status.FAIL)
    assert tools.status is Status.PASS and tools.evidence["path_source"] == "target"


def test_scan_cli_on_a_running_container_reports_tools_and_the_hosts_kernel(cni_container, engine):
    started = time.time()
    scan = subprocess.Popen([sys.executable, "-m", "fipscheck.cli", "scan", "--container",
                             cni_container.name, *(f"--require-tool={t}" for t in CNI_TOOLS),
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    stdout, stderr = scan.communicate(timeout=300)
    assert scan.returncode == 0, stderr
    report = json.loads(stdout)
    assert containers_created_since(engine, started, scan.pid) == []  # a container target makes none
    assert report["target"]["kind"] == "container" and report["target"]["image"] == CNI
    results = {r["id"]: r for r in report["checks"]}
    tools = results["tools.required"]
    assert tools["status"] == "pass"
    assert {t["tool"]: t["path"] for t in tools["evidence"]["found"]} == {
        "iptables": "/usr/sbin/iptables", "ipset": "/usr/sbin/ipset", "conntrack": "/usr/sbin/conntrack"}
    assert tools["evidence"]["PATH"].startswith("/usr/local/openssl/bin:")
    kernel = results["kernel.fips"]
    assert kernel["status"] == "skip" and "host kernel's" in kernel["message"]
    assert kernel["evidence"]["kernel"] == "host's"


def test_scan_cli_on_the_local_host():
    host = subprocess.run([sys.executable, "-m", "fipscheck.cli", "scan", "--host", "local://",
                           "--check", "kernel.fips", "--format", "json"], capture_output=True,
                          text=True, timeout=300)
    assert host.returncode == (0 if host_fips_enabled() == "1" else 1), host.stderr
    [kernel] = json.loads(host.stdout)["checks"]
    assert kernel["evidence"]["fips_enabled"] == host_fips_enabled()
