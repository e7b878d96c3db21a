"""The floors fipscheck is measured against: the least any tool doing the same job must do.

    python -m bench.floors static ROOT   walk the tree, read the first 4 KiB of every regular
                                         file, and run one mmap'd literal search over the whole
                                         of every ELF file
    python -m bench.floors image IMAGE   create a container, read its ``docker export`` stream
                                         once, start it, run one command in it, remove it

Each prints one JSON line with what it counted.
"""

from __future__ import annotations

import json
import mmap
import os
import sys

LITERAL = b"a literal no file holds: fipscheck bench floor"


def static(root: str) -> dict[str, int]:
    files = elf = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                files += 1
                with open(entry.path, "rb", buffering=0) as f:
                    if f.read(4096)[:4] != b"\x7fELF":
                        continue
                    elf += 1
                    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
                        view.find(LITERAL)
    return {"files": files, "elf": elf}


def image(name: str) -> dict[str, int]:
    import docker

    client = docker.from_env(timeout=600)
    container = client.containers.create(name, entrypoint=["sleep", "infinity"], command=[],
                                         network_mode="none")
    try:
        exported = sum(len(chunk) for chunk in container.export())
        container.start()
        code = container.exec_run(["true"]).exit_code
    finally:
        container.remove(force=True)
    return {"exported_bytes": exported, "exec_exit": code}


if __name__ == "__main__":
    kind, arg = sys.argv[1], sys.argv[2]
    print(json.dumps({"static": static, "image": image}[kind](arg)))
