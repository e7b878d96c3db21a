"""One directory per fipscheck run for everything the run creates outside the Docker engine
(unpacked image roots, downloaded blobs, temporary archives) and the record of the containers
it creates in the engine, so that a run killed outright (SIGKILL, the OOM killer, a CI
timeout) is cleaned up by the next run or by ``fipscheck cleanup``.

A run directory is ``fipscheck-run-XXXXXXXX`` in its base directory (``FIPSCHECK_TMPDIR``,
else ``TMPDIR``, else the system's temp directory; unpacked roots may get one in tmpfs too).
It holds ``lock``, locked with ``flock`` by the running process for as long as it lives (the
kernel releases the lock when the process dies, however it dies), and ``fipscheck-run.json``,
the marker naming the directory and its creator. A directory is removed by someone else only
when it has the marker, belongs to this user, and its lock can be taken: its owner is gone.
Names alone decide nothing, and a running owner is never touched (the lock is shared by all
processes of a machine, whatever their PID namespace).

Containers are recorded by name (``containers/NAME``) before they are created, with the ID of
the engine that makes them, and with their own ID once that engine gave it, so a container is
fipscheck's only if fipscheck recorded it: labels, which an image can declare for every
container made from it, prove nothing. A record is dropped only when the engine it names
confirms the container gone: the temp directory is shared by runs talking to other engines
(another ``DOCKER_HOST``, a Docker context, a remote engine), where that name means nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TargetError

PREFIX = "fipscheck-run-"
MARKER = "fipscheck-run.json"
LOCK = "lock"
CONTAINERS = "containers"
TMPFS = Path("/dev/shm")
TOOL = "fipscheck"


class WorkdirError(TargetError):
    """The run directory cannot be created (a missing, read-only or full base directory)."""


def temp_base() -> Path:
    """Where run directories go: ``FIPSCHECK_TMPDIR``, else ``TMPDIR``, else the system's."""
    return Path(os.environ.get("FIPSCHECK_TMPDIR") or tempfile.gettempdir())


def base_chosen_by_user() -> bool:
    """Whether the user named the temp directory (then unpacked roots go there, not tmpfs)."""
    return bool(os.environ.get("FIPSCHECK_TMPDIR") or os.environ.get("TMPDIR"))


@dataclass
class _RunDirectory:
    path: Path
    lock_fd: int
    pid: int


_lock = threading.Lock()
_runs: dict[Path, _RunDirectory] = {}  # base directory -> this process's run directory there
_exit_hook = False


def _forget_runs_in_child() -> None:
    """A forked child (an inventory worker) does not own this run: its copies of the locks
    are closed, so that a child outliving a parent killed outright never makes the run look
    alive to ``reap``. (The parent's lock stays: a lock goes only with its last descriptor.)"""
    for run in _runs.values():
        with contextlib.suppress(OSError):
            os.close(run.lock_fd)
    _runs.clear()


os.register_at_fork(after_in_child=_forget_runs_in_child)


def run_directory(base: Path | None = None) -> Path:
    """The current run's directory in ``base`` (default: ``temp_base()``), created and locked
    on first use and removed when the process exits. Raises WorkdirError."""
    base = Path(base) if base is not None else temp_base()
    with _lock:
        run = _runs.get(base)
        if run is None or run.pid != os.getpid():  # a forked child makes its own
            run = _runs[base] = _create(base)
        return run.path


def _create(base: Path) -> _RunDirectory:
    global _exit_hook
    try:
        path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    except OSError as error:
        raise WorkdirError(f"cannot create fipscheck's run directory in {base}: "
                           f"{error.strerror or error}") from None
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until this process ends
        marker = {"tool": TOOL, "directory": path.name, "pid": os.getpid(),
                  "host": socket.gethostname(), "started": time.time()}
        _write_atomically(path / MARKER, json.dumps(marker).encode())
    except OSError as error:
        shutil.rmtree(path, ignore_errors=True)
        raise WorkdirError(f"cannot set up fipscheck's run directory {path}: "
                           f"{error.strerror or error}") from None
    if not _exit_hook:
        atexit.register(finish)
        _exit_hook = True
    return _RunDirectory(path, fd, os.getpid())


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        out.write(data)
    os.replace(partial, path)


@dataclass(frozen=True)
class ContainerRecord:
    """What a run wrote down about a container of its own."""

    engine: str  # the ID of the engine it was made in ("" in records of earlier versions)
    id: str = ""  # "" while the engine has not answered the create (or never did)
    recorded: float = 0.0  # when the record was first written (time.time())


def record_container(name: str, engine: str, container_id: str = "") -> None:
    """Note a container of this run: by name and engine before it is created, with its ID
    after (the first record's time is kept)."""
    records = run_directory() / CONTAINERS
    records.mkdir(exist_ok=True)
    recorded = _read_record(records / name).recorded if container_id else 0.0
    entry = {"engine": engine, "id": container_id, "recorded": recorded or time.time()}
    _write_atomically(records / name, json.dumps(entry).encode())


def _read_record(path: Path) -> ContainerRecord:
    """A record file: JSON, or (earlier versions) the bare ID of an unknown engine."""
    try:
        text = path.read_text(errors="replace").strip()
    except FileNotFoundError:
        return ContainerRecord("")
    with contextlib.suppress(ValueError):
        entry = json.loads(text)
        if isinstance(entry, dict):
            recorded = entry.get("recorded")
            return ContainerRecord(str(entry.get("engine") or ""), str(entry.get("id") or ""),
                                   float(recorded) if isinstance(recorded, (int, float)) else 0.0)
    return ContainerRecord("", text)


def forget_container(name: str) -> None:
    """The container is gone: nobody needs to remove it any more."""
    with _lock:
        runs = [run for run in _runs.values() if run.pid == os.getpid()]
    for run in runs:
        with contextlib.suppress(FileNotFoundError):
            (run.path / CONTAINERS / name).unlink()


def recorded_containers(directory: Path) -> dict[str, ContainerRecord]:
    """Container name -> what a run recorded of it."""
    records = directory / CONTAINERS
    if not records.is_dir():
        return {}
    return {entry.name: _read_record(entry)
            for entry in records.iterdir() if entry.is_file() and not entry.name.endswith(".partial")}


def finish() -> None:
    """Remove this process's run directories (at exit). Containers that could not be removed
    stay recorded, with the marker, for the next run or ``fipscheck cleanup``."""
    with _lock:
        mine = [base for base, run in _runs.items() if run.pid == os.getpid()]
        runs = [_runs.pop(base) for base in mine]
    for run in runs:
        _remove(run.path, keep_records=True)
        os.close(run.lock_fd)


def _remove(directory: Path, keep_records: bool) -> bool:
    """Remove a run directory: everything but the marker and lock first, then those, so a
    removal cut short leaves a directory that is still recognisably a run's. With
    keep_records, a directory holding container records keeps them (and the marker)."""
    keep = {MARKER, LOCK}
    if keep_records and recorded_containers(directory):
        keep.add(CONTAINERS)
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return True
    for entry in entries:
        if entry.name in keep:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
    if CONTAINERS in keep:
        return False
    for name in (MARKER, LOCK):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / name)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(directory)
    return True


@dataclass
class Reaped:
    """What a cleanup found: run directories removed, containers removed, directories kept
    because this engine could not confirm their containers gone (it did not answer, or a
    container is still there), and directories left to the other engines their containers
    were made in. Kept and left directories hold only their records by now."""

    directories: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    other_engines: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"directories": self.directories, "containers": self.containers, "kept": self.kept,
                "other_engines": self.other_engines}


@dataclass
class Judged:
    """An engine's answer about the recorded containers of a dead run, by name: confirmed
    gone (removed now, or before), still there or unknown (why), or made in another engine
    (which). A name in none of them stays recorded."""

    gone: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    other_engines: dict[str, str] = field(default_factory=dict)


# Removes the recorded containers of a dead run and says which the engine confirms gone;
# raises when the engine cannot be asked.
ContainerRemover = Callable[[dict[str, ContainerRecord]], Judged]


def reap(remove_containers: ContainerRemover | None = None,
         bases: tuple[Path, ...] | None = None) -> Reaped:
    """Remove the run directories whose owner is gone (in the temp base and tmpfs), and with
    remove_containers the containers they recorded; a directory whose containers cannot be
    removed now is kept for a later run."""
    reaped = Reaped()
    for base in dict.fromkeys(bases or (temp_base(), TMPFS)):
        for directory in _candidates(base):
            _reap_one(directory, remove_containers, reaped)
    return reaped


def _candidates(base: Path) -> list[Path]:
    try:
        entries = list(os.scandir(base))
    except OSError:
        return []
    return [Path(e.path) for e in entries if e.name.startswith(PREFIX) and _ours(Path(e.path))]


def _ours(directory: Path) -> bool:
    """A directory fipscheck made as a run directory: a real directory of this user, with a
    marker naming it (never decided by the directory's name alone)."""
    try:
        st = os.lstat(directory)
        if not os.path.isdir(directory) or os.path.islink(directory) or st.st_uid != os.geteuid():
            return False
        with open(directory / MARKER, "rb") as f:
            marker = json.loads(f.read(4096))
    except (OSError, ValueError):
        return False  # no marker (yet): not a run directory, or one being set up
    return isinstance(marker, dict) and marker.get("tool") == TOOL \
        and marker.get("directory") == directory.name


def _judge(records: dict[str, ContainerRecord], remove_containers: ContainerRemover | None) -> Judged:
    """Which recorded containers the engine confirms gone; every record it does not answer
    for stays (fail closed: a record is dropped on the engine's word, never on a guess)."""
    if not records:
        return Judged()
    if remove_containers is None:
        return Judged(kept=dict.fromkeys(records, "needs the engine to be removed"))
    try:
        judged = remove_containers(records)
    except Exception as error:  # the engine is away: keep the records for later
        return Judged(kept=dict.fromkeys(records, f"could not be removed: {error}"))
    judged.gone = [name for name in judged.gone if name in records]
    answered = {*judged.gone, *judged.kept, *judged.other_engines}
    judged.kept.update({name: "the engine did not answer for it" for name in records
                        if name not in answered})
    return judged


def _reap_one(directory: Path, remove_containers: ContainerRemover | None, reaped: Reaped) -> None:
    if directory in {run.path for run in _runs.values()}:
        return
    try:
        fd = os.open(directory / LOCK, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its owner still runs
        judged = _judge(recorded_containers(directory), remove_containers)
        reaped.containers += judged.gone
        for name in judged.gone:
            with contextlib.suppress(FileNotFoundError):
                (directory / CONTAINERS / name).unlink()
        if _remove(directory, keep_records=True):  # unpacked files go in any case
            reaped.directories.append(str(directory))
        elif judged.kept:
            reaped.kept[str(directory)] = "; ".join(f"{name}: {why}" for name, why in judged.kept.items())
        else:
            engines = ", ".join(sorted(set(judged.other_engines.values())))
            reaped.other_engines[str(directory)] = f"its containers were made in {engines}"
    finally:
        os.close(fd)
