"""Run directories: locked by their running process, marked, and removed by others only when
their owner is gone (real processes, real flock; no engine here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fipscheck import workdir

# A child process that makes its run directory (in FIPSCHECK_TMPDIR), records a container,
# prints the directory and waits for a line on stdin (or is killed).
CHILD = textwrap.dedent("""
    import sys
    from fipscheck import workdir
    path = workdir.run_directory()
    (path / "rootfs-x").mkdir()
    (path / "rootfs-x" / "lib").write_text("unpacked")
    if len(sys.argv) > 1:
        workdir.record_container(sys.argv[1], "engine-a")
        workdir.record_container(sys.argv[1], "engine-a", "id-" + sys.argv[1])
    print(path, flush=True)
    sys.stdin.readline()
""")


def start_run(base: Path, container: str | None = None) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *([container] if container else [])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "FIPSCHECK_TMPDIR": str(base)})
    return proc, Path(proc.stdout.readline().strip())


def killed_run(base: Path, container: str | None = None) -> Path:
    proc, path = start_run(base, container)
    proc.kill()
    proc.wait()
    return path


def test_a_run_directory_is_locked_marked_and_removed_at_exit(tmp_path):
    proc, path = start_run(tmp_path)
    assert path.parent == tmp_path and path.name.startswith("fipscheck-run-")
    marker = json.loads((path / "fipscheck-run.json").read_text())
    assert marker["pid"] == proc.pid and marker["directory"] == path.name
    assert workdir.reap(bases=(tmp_path,)).directories == []  # its owner runs: untouched
    assert (path / "rootfs-x" / "lib").exists()
    proc.communicate("\n")
    assert proc.returncode == 0 and list(tmp_path.iterdir()) == []


def test_directories_of_killed_runs_are_reaped_and_nothing_else(tmp_path):
    dead = killed_run(tmp_path)
    assert (dead / "rootfs-x" / "lib").exists()  # SIGKILL: no cleanup ran
    alive, running = start_run(tmp_path)
    strangers = {name: tmp_path / name for name in ("fipscheck-run-nomarker", "fipscheck-run-forged",
                                                     "fipscheck-run-link", "unrelated")}
    for directory in strangers.values():
        if directory.name != "fipscheck-run-link":
            directory.mkdir()
            (directory / "lock").touch()
    other = json.loads((running / "fipscheck-run.json").read_text())  # a copied marker names
    (strangers["fipscheck-run-forged"] / "fipscheck-run.json").write_text(json.dumps(other))  # another dir
    strangers["fipscheck-run-link"].symlink_to(dead)
    try:
        reaped = workdir.reap(bases=(tmp_path,))
        assert reaped.directories == [str(dead)] and not dead.exists()
        assert running.exists() and all(os.path.lexists(d) for d in strangers.values())
    finally:
        alive.communicate("\n")


def test_recorded_containers_keep_a_directory_until_they_are_removed(tmp_path):
    dead = killed_run(tmp_path, container="fipscheck-abc")
    without_engine = workdir.reap(bases=(tmp_path,))
    assert str(dead) in without_engine.kept and (dead / "containers" / "fipscheck-abc").exists()
    assert not (dead / "rootfs-x").exists()  # the rest went already

    def engine_down(records):
        raise ConnectionRefusedError("engine down")
    assert "engine down" in workdir.reap(engine_down, bases=(tmp_path,)).kept[str(dead)]
    asked = []

    def confirms_gone(records):
        asked.append(records)
        return workdir.Judged(gone=list(records))
    reaped = workdir.reap(confirms_gone, bases=(tmp_path,))
    [[(name, record)]] = [list(records.items()) for records in asked]
    assert (name, record.engine, record.id) == ("fipscheck-abc", "engine-a", "id-fipscheck-abc")
    assert 0 < time.time() - record.recorded < 600  # when the name was first recorded
    assert reaped.containers == ["fipscheck-abc"] and not dead.exists()


@pytest.mark.parametrize(("answer", "where"), [
    (workdir.Judged(other_engines={"fipscheck-abc": "engine-b"}), "other_engines"),
    (workdir.Judged(kept={"fipscheck-abc": "still there"}), "kept"),
    (workdir.Judged(), "kept"),  # not answered for: not confirmed gone
    (workdir.Judged(gone=["fipscheck-other"]), "kept"),  # nor by a wrong name
])
def test_a_record_stays_unless_the_engine_confirms_its_container_gone(tmp_path, answer, where):
    dead = killed_run(tmp_path, container="fipscheck-abc")
    reaped = workdir.reap(lambda records: answer, bases=(tmp_path,))
    assert list(getattr(reaped, where)) == [str(dead)] and reaped.directories == []
    assert (dead / "containers" / "fipscheck-abc").exists() and not (dead / "rootfs-x").exists()
    assert reaped.containers == [] and (dead / "fipscheck-run.json").exists()


def test_a_record_of_an_earlier_version_names_no_engine(tmp_path):
    dead = killed_run(tmp_path, container="fipscheck-abc")
    (dead / "containers" / "fipscheck-abc").write_text("0123abcd\n")  # a bare ID
    assert workdir.recorded_containers(dead) == {"fipscheck-abc": workdir.ContainerRecord("", "0123abcd")}


def test_an_unusable_base_is_a_clear_error(tmp_path):
    with pytest.raises(workdir.WorkdirError, match="cannot create fipscheck's run directory in"):
        workdir.run_directory(tmp_path / "missing")


def test_the_base_follows_fipscheck_tmpdir_then_tmpdir(monkeypatch, tmp_path):
    monkeypatch.delenv("FIPSCHECK_TMPDIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    assert workdir.base_chosen_by_user()
    monkeypatch.setenv("FIPSCHECK_TMPDIR", str(tmp_path / "f"))
    assert workdir.temp_base() == tmp_path / "f"


def test_a_forked_child_makes_its_own_and_leaves_the_parents(tmp_path):
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from fipscheck import workdir
        parent = workdir.run_directory(Path({str(tmp_path)!r}))
        pid = os.fork()
        if pid == 0:
            child = workdir.run_directory(Path({str(tmp_path)!r}))
            assert child != parent
            raise SystemExit(0)  # runs atexit: must remove the child's directory only
        os.waitpid(pid, 0)
        assert parent.exists(), "the child removed its parent's directory"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout == "ok\n", done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_forked_child_holds_no_lock_of_the_run(tmp_path):
    # An inventory worker forked from a scan must not keep the scan's run looking alive
    # after the scan is killed: the child closes its copy of the lock at fork.
    run = workdir.run_directory(tmp_path)
    lock_fd = workdir._runs[tmp_path].lock_fd
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports whether its copy of the lock is still open
        try:
            os.fstat(lock_fd)
            os.write(write, b"open")
        except OSError:
            os.write(write, b"closed")
        os._exit(0)
    os.close(write)
    assert os.read(read, 16) == b"closed"
    os.waitpid(child, 0)
    os.close(read)
    os.fstat(lock_fd)  # the parent's lock is untouched
    assert run.is_dir()
