"""Benchmark (not a test): ways of getting an image's filesystem onto this machine without
starting it, timed on one image.

  export-stream   docker export of a created container, read and discarded (the floor)
  save-stream     docker save of the image (every layer, deleted files included), discarded:
                  the least a layers-with-whiteouts reader must transfer
  export-disk     export extracted by fipscheck's safe extractor into a directory on disk
  export-tmpfs    the same into /dev/shm

Usage: .venv/bin/python bench/read_image.py [IMAGE]   (default fipscheck/openssl-fips:latest)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import docker

from fipscheck.targets.export import extract


def drain(chunks: Iterable[bytes]) -> int:
    return sum(len(c) for c in chunks)


def timed(label: str, run: Callable[[], object]) -> float:
    started = time.monotonic()
    result = run()
    elapsed = time.monotonic() - started
    print(f"{label:14} {elapsed:7.2f} s   {result}")
    return elapsed


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "fipscheck/openssl-fips:latest"
    client = docker.from_env(timeout=600)
    image = client.images.get(name)
    container = client.containers.create(image.id, entrypoint=["true"], network_mode="none")
    try:
        floor = timed("export-stream", lambda: f"{drain(container.export()) >> 20} MiB")
        timed("save-stream", lambda: f"{drain(image.save()) >> 20} MiB")
        for label, parent in (("export-disk", None), ("export-tmpfs", "/dev/shm")):
            where = Path(tempfile.mkdtemp(prefix="fipscheck-bench-", dir=parent))
            try:
                spent = timed(label, lambda at=where: f"{extract(container.export(), at).files} files")
                removed = time.monotonic()
                shutil.rmtree(where)
                print(f"{'':14} {spent / floor:7.1f} x the export stream; "
                      f"removal {time.monotonic() - removed:.2f} s")
            finally:
                shutil.rmtree(where, ignore_errors=True)
    finally:
        container.remove(force=True)


if __name__ == "__main__":
    main()
