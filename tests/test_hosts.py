"""Hosts checked for real: ``local://`` (this machine) with every runtime check, ``docker://``
(a container on the test engine) and ``ssh://`` (a trixie machine running OpenSSH's server on
127.0.0.1) with fipscheck's checker copied in through the backend, run and removed; and what
a walk of this machine leaves out (virtual filesystems, container storage and root
filesystems, other roots, other filesystems unless asked)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time

import pytest
from conftest import host_fips_enabled

from fipscheck import Policy, Status
from fipscheck.errors import EvidenceError
from fipscheck.fs import RootFilesystem
from fipscheck.native import executable_path
from fipscheck.probes.python import find_interpreters, python_runtimes
from fipscheck.runner import ScanContext, scan
from fipscheck.targets import open_target
from fipscheck.targets.base import TargetConfig
from fipscheck.targets.host import local_scope
from fipscheck.targets.rootfs import RootfsTarget

CNI = "fipscheck/cni-fips:latest"
SSHD = "fipscheck/sshd-host:latest"
NATIVE_CHECKS = ("openssl.fips-mode", "openssl.fips-provider", "openssl.module-integrity",
                 "algorithms.approved", "algorithms.non-approved", "wolfssl.fips")


@pytest.fixture(scope="module")
def cni_container(running):
    return running(CNI)


def in_container(container, command: str) -> tuple[int, str]:
    done = container.exec_run(["sh", "-c", command])
    return done.exit_code, done.output.decode()


def test_docker_url_gets_every_check_with_its_checker_copied_in_and_removed(cni_container):
    with open_target("host", f"docker://{cni_container.name}") as target:
        report = scan(target, Policy(required_tools=("iptables", "ipset", "conntrack")))
        [checker] = target.describe()["installed"]
        assert checker.startswith("/tmp/fipscheck.") and checker.endswith("/fips-startup-check")
        code, listing = in_container(cni_container, f"sha256sum {checker}")
        assert code == 0 and listing.split()[0] == hashlib.sha256(
            executable_path().read_bytes()).hexdigest()
    # removed with its directory when the target closed
    assert in_container(cni_container, f"ls -d {checker.rsplit('/', 1)[0]}")[0] != 0
    results = {r.id: r for r in report.checks}
    for check in (*NATIVE_CHECKS[:5], "libraries.banned", "linkage.libcrypto", "openssl.config",
                  "go.fips-toolchain", "tools.required"):
        assert results[check].status is Status.PASS, results[check]
    # the files come from the engine's export of that container, its config with them
    assert results["linkage.libcrypto"].evidence["fips_libcrypto"] == [
        "/usr/local/openssl/lib64/libcrypto.so.3"]
    assert results["kernel.fips"].status is Status.SKIP  # a container's kernel is its host's
    assert report.verdict is Status.PASS


def test_every_byte_survives_the_copy_through_run(cni_container, tmp_path):
    data = bytes(range(256)) * 200 + b"%s%%\\'\"$(reboot)`x`\n" * 50  # > one printf chunk
    source = tmp_path / "payload"
    source.write_bytes(data)
    with open_target("host", f"docker://{cni_container.name}") as target:
        path = target.install("payload", source, 0o640)
        code, out = in_container(cni_container, f"sha256sum {path}; stat -c %a {path}")
    assert code == 0 and out.split() == [hashlib.sha256(data).hexdigest(), path, "640"]


def test_local_host_runs_every_runtime_check_on_this_machine():
    with open_target("host", "local://") as target:
        report = scan(target, checks=[*NATIVE_CHECKS, "kernel.fips", "python.hashlib", "python.ssl"])
        assert "installed" not in target.describe()  # the package's own checker, in place
    results = {r.id: r for r in report.checks}
    assert not [r for r in report.checks if r.status is Status.ERROR], report.checks
    # the same verdicts as the package's checker run here directly
    direct = json.loads(subprocess.run([str(executable_path())], capture_output=True, text=True,
                                       timeout=60).stdout)
    for verdict in direct["checks"]:
        assert results[verdict["id"]].status.value == verdict["status"], verdict
    assert results["openssl.fips-provider"].evidence["libcrypto"]["path"] == \
        direct["libcrypto"]["path"]
    kernel = results["kernel.fips"]
    assert kernel.evidence["fips_enabled"] == host_fips_enabled()
    interpreters = list(results["python.hashlib"].evidence["interpreters"])
    assert interpreters and all(os.path.exists(i) for i in interpreters)


def test_a_host_walk_leaves_out_container_storage_and_roots(engine, cni_container):
    scope = local_scope()
    for virtual in ("/proc", "/sys", "/dev"):
        assert "virtual" in scope.prune[virtual]
    assert scope.prune[engine.info()["DockerRootDir"]] == "container storage"
    cni_container.reload()
    merged = cni_container.attrs["GraphDriver"]["Data"]["MergedDir"]  # a mounted container root
    assert scope.prune[merged] == "a container's root filesystem (overlay)"
    assert scope.one_filesystem and scope.nested_roots
    assert not local_scope(all_filesystems=True).one_filesystem


@pytest.fixture
def tmpfs_mount(tmp_path):
    """Another filesystem mounted below the walk (this machine's tmpfs), unmounted after."""
    point = tmp_path / "mnt"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "fipscheck-test", str(point)],
                   check=True)
    try:
        (point / "inside").write_text("on the other filesystem")
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_a_host_walk_stays_on_the_root_filesystem_unless_asked(tmp_path, tmpfs_mount):
    chroot = tmp_path / "chroot"
    for directory in ("etc", "usr", "bin"):
        (chroot / directory).mkdir(parents=True)
    (chroot / "bin/sh").write_text("another system's shell")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain/file").write_text("this machine's")
    for all_filesystems, walked_mount in ((False, False), (True, True)):
        with open_target("host", "local://", all_filesystems=all_filesystems) as target:
            fs = target.filesystem
            paths = {e.path for e in fs.walk(str(tmp_path))}
        assert f"{tmp_path}/plain/file" in paths and f"{chroot}/bin/sh" not in paths
        assert fs.not_walked[str(chroot)] == "another root (it has etc/, usr/ and bin/ or lib/)"
        assert (f"{tmpfs_mount}/inside" in paths) is walked_mount
        if not walked_mount:
            assert fs.not_walked[str(tmpfs_mount)] == "another filesystem (tmpfs)"


def test_a_pod_says_why_its_files_are_not_read():
    with open_target("host", "kubectl://some-pod") as target:  # nothing is run for this
        [banned] = scan(target, checks=["libraries.banned"]).checks
    assert banned.status is Status.SKIP and "the pod's image" in banned.message


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ssh_host(engine, image, tmp_path_factory):
    """The sshd-host image running with the host's network, its sshd listening on a free port
    of 127.0.0.1 with a key made here; (URL, container); removed after."""
    keys = tmp_path_factory.mktemp("ssh")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "id")],
                   check=True)
    (keys / "config").write_text("Host 127.0.0.1\n  StrictHostKeyChecking no\n"
                                 "  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n")
    port = _free_loopback_port()
    container = engine.containers.create(image(SSHD), network_mode="host", command=[
        "/usr/sbin/sshd", "-D", "-e", "-p", str(port)])
    try:
        authorized = (keys / "id.pub").read_bytes()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo("root/.ssh/authorized_keys")
            info.size, info.mode = len(authorized), 0o600
            tar.addfile(info, io.BytesIO(authorized))
        container.put_archive("/", archive.getvalue())
        container.start()
        for _ in range(100):  # until sshd accepts connections
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield (f"ssh://root@127.0.0.1:{port}?ssh_config={keys / 'config'}"
               f"&ssh_identity_file={keys / 'id'}"), container
    finally:
        container.remove(force=True)


def test_ssh_host_gets_the_runtime_checks_with_its_checker_copied_in_and_removed(ssh_host):
    url, container = ssh_host
    with open_target("host", url) as target:
        assert target.backend == "ssh" and target.own_kernel
        report = scan(target, checks=[*NATIVE_CHECKS, "libraries.banned"])
        [checker] = target.describe()["installed"]
        code, out = in_container(container, f"sha256sum {checker}")
        assert code == 0 and out.split()[0] == hashlib.sha256(executable_path().read_bytes()).hexdigest()
    assert in_container(container, f"ls -d {checker.rsplit('/', 1)[0]}")[0] != 0  # removed
    results = {r.id: r for r in report.checks}
    # trixie's OpenSSL 3.5 without its FIPS provider, as the checker saw it over there
    provider = results["openssl.fips-provider"]
    assert provider.status is Status.FAIL
    assert provider.evidence["libcrypto"]["version"].startswith("OpenSSL 3.5.")
    assert results["algorithms.approved"].status is Status.PASS
    banned = results["libraries.banned"]
    assert banned.status is Status.SKIP and "fipscheck scan --host local://" in banned.message


def test_python_launchers_are_not_run_but_cannot_stand_alone(tmp_path):
    """A host's PATH often holds launchers named like interpreters (pyenv shims): they are
    not run; the interpreters are. Launchers with no interpreter at all are an error."""
    shim = tmp_path / "root/shims/python3.10"
    shim.parent.mkdir(parents=True)
    shim.write_text('#!/usr/bin/env bash\nexec pyenv exec "$0" "$@"\n')
    shim.chmod(0o755)
    fs = RootFilesystem(tmp_path / "root")
    assert find_interpreters(fs, ["/shims", "/usr/bin"]) == ([], ["/shims/python3.10"])
    with pytest.raises(EvidenceError, match=re.escape("/shims/python3.10: a script, not a Python")):
        python_runtimes(ScanContext(PathRoot(tmp_path / "root", "/shims")))
    (tmp_path / "root/usr/bin").mkdir(parents=True)
    shutil.copy(os.path.realpath(sys.executable), tmp_path / "root/usr/bin/python3")
    assert find_interpreters(fs, ["/shims", "/usr/bin"]) == (
        [("/usr/bin/python3", "/usr/bin/python3")], ["/shims/python3.10"])


class PathRoot(RootfsTarget):
    """A root directory whose configuration sets PATH."""

    def __init__(self, directory, path: str) -> None:
        super().__init__(directory)
        self._path = path

    @property
    def config(self) -> TargetConfig:
        return TargetConfig(env={"PATH": self._path})
