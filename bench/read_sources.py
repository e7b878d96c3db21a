"""Benchmark (not a test): an image's filesystem from its layers (registry:, archives, OCI
layouts) against a floor and two peers, on one image, best of three, into tmpfs.

  floor           every layer blob of the OCI layout read, digest-checked and gunzipped,
                  nothing written: the least any reader of those layers does
  oci-dir         fipscheck applying the layout's gzip layers (whiteouts, hard links, modes)
  docker-archive  fipscheck applying the uncompressed layers of the `docker save` archive
  peer: tar       GNU tar extracting each gzip layer in turn (no whiteouts handled)
  peer: export    the engine route: `docker export` of a created container through
                  fipscheck's extractor (what a docker: image costs)

Usage: .venv/bin/python bench/read_sources.py [IMAGE]   (default fipscheck/openssl-fips:latest)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker

from fipscheck.targets import open_target
from fipscheck.targets.export import extract


def best_of_three(run: Callable[[Path], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(3):
        where = Path(tempfile.mkdtemp(prefix="fipscheck-bench-", dir="/dev/shm"))
        try:
            started = time.monotonic()
            result = run(where)
            best = min(best, time.monotonic() - started)
        finally:
            shutil.rmtree(where, ignore_errors=True)
    return best, result


def layer_paths(layout: Path) -> list[Path]:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    return [layout / "blobs/sha256" / layer["digest"][7:] for layer in manifest["layers"]]


def floor(layout: Path) -> str:
    total = 0
    for path in layer_paths(layout):
        with open(path, "rb") as raw:
            digest = hashlib.sha256()
            with gzip.GzipFile(fileobj=raw) as inner:
                while chunk := inner.read(1 << 20):
                    digest.update(chunk)
                    total += len(chunk)
    return f"{total >> 20} MiB uncompressed"


def applied(source: str) -> str:
    with open_target("image", source) as target:
        target.filesystem  # noqa: B018 - applying the layers is what is measured
        return f"{target.layer_stats.files} files"


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "fipscheck/openssl-fips:latest"
    client = docker.from_env(timeout=600)
    image = client.images.get(name)
    with tempfile.TemporaryDirectory(prefix="fipscheck-bench-", dir="/var/tmp") as tmp:
        archive, layout = Path(tmp) / "image.tar", Path(tmp) / "layout"
        with open(archive, "wb") as out:
            for chunk in image.save(named=True):
                out.write(chunk)
        subprocess.run(["skopeo", "--insecure-policy", "copy", f"docker-archive:{archive}",
                        f"oci:{layout}:bench"], check=True, capture_output=True)
        container = client.containers.create(image.id, entrypoint=["true"], network_mode="none")
        try:
            runs = {
                "floor": lambda where: floor(layout),
                "oci-dir": lambda where: applied(f"oci-dir:{layout}"),
                "docker-archive": lambda where: applied(f"docker-archive:{archive}"),
                "peer: tar": lambda where: [subprocess.run(["tar", "-xzf", str(p), "-C", str(where)],
                                                           check=True) for p in layer_paths(layout)]
                and f"{len(layer_paths(layout))} layers",
                "peer: export": lambda where: f"{extract(container.export(), where).files} files",
            }
            base = None
            for label, run in runs.items():
                spent, result = best_of_three(run)
                base = base or spent
                print(f"{label:15} {spent:7.2f} s  {spent / base:5.1f} x floor   {result}")
        finally:
            container.remove(force=True)


if __name__ == "__main__":
    main()
