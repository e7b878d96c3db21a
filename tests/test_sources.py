"""Image sources: the grammar, layers applied as the engine applies them (compared with the
engine's own export of the same image), docker save archives, OCI layouts made by skopeo
(gzip and zstd), tampered blobs, and dir: with a configuration of its own."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import skopeo

from fipscheck import Status, workdir
from fipscheck.errors import TargetError
from fipscheck.progress import ProgressLine
from fipscheck.runner import scan
from fipscheck.targets import ImageTarget, SourceOptions, open_target
from fipscheck.targets.oci import Platform
from fipscheck.targets.registry import Reference
from fipscheck.targets.sources import Source, parse_source

FIPSCHECK = str(Path(sys.executable).with_name("fipscheck"))
REFERENCE = "fipscheck/openssl-fips:latest"
# What an engine adds to every container's filesystem (its init layer), and so to its export.
ENGINE_ADDS = {"/.dockerenv", "/etc/mtab", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev", "/proc",
               "/sys"}


def fipscheck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([FIPSCHECK, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("text", "source"), [
    ("alpine:3.20", Source("docker", "alpine:3.20")),
    ("localhost:5000/app:1", Source("docker", "localhost:5000/app:1")),
    ("docker:docker:5000/app", Source("docker", "docker:5000/app")),
    ("registry:ghcr.io/org/app@sha256:" + "a" * 64, Source("registry", "ghcr.io/org/app@sha256:" + "a" * 64)),
    ("docker-archive:./app.tar", Source("docker-archive", "./app.tar")),
    ("oci-archive:/tmp/app.oci.tar", Source("oci-archive", "/tmp/app.oci.tar")),
    ("oci-dir:layout:v1", Source("oci-dir", "layout:v1")),
    ("dir:/srv/root", Source("dir", "/srv/root")),
])
def test_source_grammar(text, source):
    assert parse_source(text) == source


def test_a_scheme_without_reference_is_refused():
    with pytest.raises(ValueError, match="names no registry reference"):
        parse_source("registry:")


@pytest.mark.parametrize(("text", "parts"), [
    ("alpine", ("docker.io", "library/alpine", "latest", "")),
    ("org/app:1.2", ("docker.io", "org/app", "1.2", "")),
    ("127.0.0.1:5000/fips/app", ("127.0.0.1:5000", "fips/app", "latest", "")),
    ("localhost/app@sha256:" + "b" * 64, ("localhost", "app", "", "sha256:" + "b" * 64)),
    ("index.docker.io/library/alpine:3", ("docker.io", "library/alpine", "3", "")),
])
def test_reference_grammar(text, parts):
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == parts


@pytest.mark.parametrize("bad", ["UPPER/case", "app@sha256:short", "app:bad tag", "host:1/x/../y"])
def test_bad_references_are_refused(bad):
    with pytest.raises(ValueError):
        Reference.parse(bad)


def test_a_bad_platform_or_env_is_a_usage_error_exit_2(tmp_path):
    platform = fipscheck("scan", f"dir:{tmp_path}", "--platform", "arm64")
    assert platform.returncode == 2 and "not a platform: 'arm64'" in platform.stderr
    env = fipscheck("scan", f"dir:{tmp_path}", "--env", "NO_EQUALS")
    assert env.returncode == 2 and "--env takes KEY=VALUE" in env.stderr


def test_the_progress_line_is_rewritten_on_a_terminal_and_printed_twice_elsewhere():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    rewrite = "\r\x1b[Kfipscheck: "
    for stream, expected in (
            (Terminal(), "".join(f"{rewrite}fetching {n}" for n in range(3)) + f"{rewrite}done\n"),
            (io.StringIO(), "fipscheck: fetching 0\nfipscheck: done\n")):  # CI logs: first and last
        line = ProgressLine(stream, every=0)
        for n in range(3):
            line.update(f"fetching {n}")
        line.done("done")
        assert stream.getvalue() == expected


def test_platforms_are_normalised_as_containerd_does():
    assert str(Platform.parse("linux/arm64/v8")) == "linux/arm64"
    assert Platform.parse("linux/arm").matches(Platform.parse("linux/arm/v7"))
    assert not Platform.parse("linux/arm/v6").matches(Platform.parse("linux/arm/v7"))
    with pytest.raises(ValueError, match="OS/ARCH"):
        Platform.parse("arm64")


# -- layers applied exactly as the engine applies them --------------------------------------

def tree(root: Path) -> dict[str, tuple]:
    """Every name below root: type, permission bits, and content digest or link target;
    hard links show as one inode group (its members sorted)."""
    found, inodes = {}, {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            rel = "/" + str(path.relative_to(root))
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                found[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
    groups = {tuple(sorted(members)) for members in inodes.values()}
    return {path: item for path, item in found.items()
            if not any(path == a or path.startswith(a + "/") for a in ENGINE_ADDS)} | {
                "links": sorted(groups)}


@pytest.fixture(scope="module")
def engine_tree(layered_image):
    """The layered image as the engine itself presents it (export of a created container)."""
    with ImageTarget(layered_image, pull="never") as target:
        return tree(target.filesystem.root)


@pytest.fixture(scope="module")
def layouts(layered_image, saved, tmp_path_factory):
    """The layered image as docker save wrote it, and as skopeo wrote it as OCI layouts
    (gzip, zstd) and an OCI archive."""
    archive = saved(layered_image)
    where = tmp_path_factory.mktemp("layouts")
    skopeo("copy", f"docker-archive:{archive}", f"oci:{where}/gzip:layers")
    skopeo("copy", "--dest-compress", "--dest-compress-format", "zstd", f"docker-archive:{archive}",
           f"oci:{where}/zstd:layers")
    skopeo("copy", f"docker-archive:{archive}", f"oci-archive:{where}/layers.oci.tar")
    with open(archive, "rb") as plain, gzip.open(where / "layers.tar.gz", "wb", compresslevel=1) as packed:
        shutil.copyfileobj(plain, packed)  # docker save | gzip
    return {"docker-archive": archive, "docker-archive gzip": f"{where}/layers.tar.gz",
            "oci-dir": f"{where}/gzip", "oci-dir zstd": f"{where}/zstd",
            "oci-archive": f"{where}/layers.oci.tar"}


@pytest.mark.parametrize("kind", ["docker-archive", "docker-archive gzip", "oci-dir", "oci-dir zstd",
                                  "oci-archive"])
def test_layers_are_applied_as_the_engine_applies_them(kind, layouts, engine_tree):
    scheme = kind.split()[0]
    with open_target("image", f"{scheme}:{layouts[kind]}") as target:
        applied = tree(target.filesystem.root)
        described = target.describe()
    assert applied == engine_tree
    assert described["layers_applied"]["whiteouts"] >= 6  # .wh. files and opaque markers
    assert described["platform"] == "linux/amd64" and described["layers"] == 3
    # the cases the later layer exercises, as they must come out
    assert "/data/dir/gone" not in applied and "/data/gone-dir" not in applied
    assert "/data/opaque/old" not in applied and applied["/data/opaque/new"][0] == "file"
    assert applied["/data/file-to-dir"][0] == "dir" and applied["/data/dir-to-file"][0] == "file"
    assert applied["/data/dir"] == ("dir", 0o750) and applied["/data/tool"][1] == 0o755
    assert ("/data/hardlink", "/data/keep") in applied["links"]
    assert applied["/data/link"] == ("link", "/data/missing")
    assert not any(p.startswith("/usr/lib/x86_64-linux-gnu/libhogweed") for p in applied)


def test_the_image_configuration_comes_with_an_archive(layouts):
    with open_target("image", f"oci-archive:{layouts['oci-archive']}") as target:
        config = target.config
        described = target.describe()
    assert config.env["OPENSSL_CONF"] == "/data/openssl.cnf" and config.env["GODEBUG"] == "fips140=on"
    assert config.workdir == "/data" and config.user == "1000" and config.cmd == ("/bin/bash",)
    assert described["config"]["env"]["OPENSSL_CONF"] == "/data/openssl.cnf"
    assert described["digest"].startswith("sha256:") and described["image_id"].startswith("sha256:")


def test_a_tampered_blob_is_an_error(layouts, tmp_path):
    layout = tmp_path / "tampered"
    shutil.copytree(layouts["oci-dir"], layout)
    manifest_digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest.split(":")[1]).read_text())
    last = layout / "blobs/sha256" / manifest["layers"][-1]["digest"].split(":")[1]
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0xFF
    last.write_bytes(bytes(data))
    done = fipscheck("scan", f"oci-dir:{layout}", "--check", "libraries.banned")
    assert done.returncode == 2
    assert "does not match its digest" in done.stdout or "cannot be read" in done.stdout


def edited_layout(layouts, tmp_path, edit) -> Path:
    """A copy of the skopeo layout whose manifest ``edit`` changed (stored, and named by
    index.json, under its new digest)."""
    layout = tmp_path / "edited"
    shutil.copytree(layouts["oci-dir"], layout)
    index = json.loads((layout / "index.json").read_text())
    entry = index["manifests"][0]
    manifest = json.loads((layout / "blobs/sha256" / entry["digest"][7:]).read_text())
    edit(manifest)
    data = json.dumps(manifest).encode()
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    entry.update(digest=f"sha256:{digest}", size=len(data))
    (layout / "index.json").write_text(json.dumps(index))
    return layout


@pytest.mark.parametrize(("edit", "refusal"), [
    (lambda m: m["layers"][-1].update(size=m["layers"][-1]["size"] - 1), "larger than its declared"),
    (lambda m: m["layers"][0].update(mediaType="application/vnd.oci.image.layer.v1.tar+encrypted"),
     "not a filesystem layer"),
    (lambda m: m["config"].update(size=64 << 20), "more than the 8388608 allowed"),
    (lambda m: m["layers"].pop(), "does not list one diff ID per layer"),
    (lambda m: m["layers"][0].update(size=65 << 30), "declares more than 64 GiB of layers"),
])
def test_a_manifest_that_lies_is_refused(layouts, tmp_path, edit, refusal):
    layout = edited_layout(layouts, tmp_path, edit)
    with pytest.raises(TargetError, match=refusal), open_target("image", f"oci-dir:{layout}") as target:
        target.filesystem  # noqa: B018 - opening or applying the layers refuses


def test_an_oci_layout_holding_two_named_images(layouts, saved, tmp_path):
    layout = tmp_path / "two"
    shutil.copytree(layouts["oci-dir"], layout)  # ref name "layers"
    skopeo("copy", f"docker-archive:{saved('fipscheck-base:trixie')}", f"oci:{layout}:base")
    with pytest.raises(TargetError, match=r"holds several images \(base, layers\): name one"):
        open_target("image", f"oci-dir:{layout}")
    with open_target("image", f"oci-dir:{layout}:base") as target:
        assert target.describe()["layers"] == 1
    with pytest.raises(TargetError, match="no image named 'other'"):
        open_target("image", f"oci-dir:{layout}:other")


def test_a_named_image_of_a_multi_image_archive(saved, engine, layered_image, tmp_path):
    both = tmp_path / "both.tar"  # docker save IMAGE IMAGE (the SDK saves one image at a time)
    answer = engine.api.get(f"{engine.api.base_url}/images/get", stream=True,
                            params={"names": [layered_image, "fipscheck-base:trixie"]})
    answer.raise_for_status()
    with open(both, "wb") as out:
        for chunk in answer.iter_content(1 << 20):
            out.write(chunk)
    with pytest.raises(TargetError, match="holds 2 images: name one"):
        open_target("image", f"docker-archive:{both}")
    with open_target("image", f"docker-archive:{both}:fipscheck-base:trixie") as target:
        assert target.describe()["layers"] == 1
        assert not target.filesystem.exists("/data")


# -- the same verdicts as from the engine ---------------------------------------------------

def test_a_saved_reference_image_gives_the_same_results_as_the_engine(saved, image, no_leaks):
    from_engine = json.loads(fipscheck("scan", image(REFERENCE), "--format", "json").stdout)
    archived = fipscheck("scan", f"docker-archive:{saved(REFERENCE)}", "--format", "json")
    assert archived.returncode == 0, archived.stderr
    from_archive = json.loads(archived.stdout)

    def results(report: dict) -> list[tuple[str, str, str]]:
        return [(c["id"], c["status"], re.sub(r"among \d+ files", "among N files", c["message"]))
                for c in report["checks"]]

    def files_read(report: dict) -> int:
        banned = next(c for c in report["checks"] if c["id"] == "libraries.banned")
        return int(re.search(r"among (\d+) files", banned["message"]).group(1))

    assert results(from_archive) == results(from_engine)
    # the engine's export also holds what it adds to a container: /.dockerenv, /dev/console,
    # and /etc/hostname, /etc/hosts, /etc/resolv.conf where the image has none (this one has
    # the last two); the archive is the image alone
    assert files_read(from_engine) - files_read(from_archive) == 3
    assert from_archive["target"]["image_id"] == from_engine["target"]["image_id"]
    assert from_archive["target"]["source"] == "docker-archive"
    assert from_archive["target"]["config"] == from_engine["target"]["config"]


def test_without_an_engine_runtime_checks_say_why(saved, tmp_path):
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    done = fipscheck("scan", f"docker-archive:{saved(REFERENCE)}", "--format", "json",
                     env={"DOCKER_HOST": nowhere})
    report = json.loads(done.stdout)
    results = {c["id"]: c for c in report["checks"]}
    for runtime in ("openssl.fips-provider", "algorithms.approved", "python.hashlib"):
        assert results[runtime]["status"] == "skip"
        assert f"no Docker engine answers at {nowhere}" in results[runtime]["message"]
    for static in ("openssl.config", "linkage.libcrypto", "libraries.banned"):
        assert results[static]["status"] == "pass", results[static]
    assert done.returncode == 0 and report["verdict"] == "pass"


# -- dir: with --config and --env -------------------------------------------------------------

def test_a_directory_takes_its_configuration_from_config_and_env(layered_image, engine, tmp_path):
    inspect = tmp_path / "inspect.json"
    inspect.write_text(json.dumps([engine.images.get(layered_image).attrs]))
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    with open_target("image", f"dir:{root}", SourceOptions(config_file=str(inspect),
                                                           env=("GODEBUG=fips140=only",))) as target:
        assert target.config.env["OPENSSL_CONF"] == "/data/openssl.cnf"
        assert target.config.env["GODEBUG"] == "fips140=only"
        assert target.describe()["config"]["workdir"] == "/data"
    with pytest.raises(ValueError, match="configure a bare directory"):
        open_target("image", layered_image, SourceOptions(env=("A=B",)))


def test_the_config_of_a_directory_decides_openssl_config(image, tmp_path):
    """A root whose OPENSSL_CONF is set only by the image's ENV: without --env the check reads
    the wrong openssl.cnf, with it the right one."""
    with ImageTarget(image("fipscheck/cni-fips:latest"), pull="never") as target:
        root = target.filesystem.root
        conf = target.config.env["OPENSSL_CONF"]
        modules = target.config.env["OPENSSL_MODULES"]
        bare = scan(open_target("rootfs", str(root)), checks=["openssl.config"]).checks[0]
        configured = scan(open_target("image", f"dir:{root}", SourceOptions(env=(
            f"OPENSSL_CONF={conf}", f"OPENSSL_MODULES={modules}"))), checks=["openssl.config"]).checks[0]
    assert bare.status is not Status.PASS
    assert configured.status is Status.PASS, configured.message
    assert conf in configured.message


def test_an_ini_file_pins_an_archive_relative_to_itself(pytester, saved, layered_image):
    project = pytester.mkdir("project")
    os.symlink(saved(layered_image), project / "layers.tar")
    (project / "pytest.ini").write_text("[pytest]\nfips_image =\n    docker-archive:layers.tar\n")
    result = pytester.runpytest_subprocess("-c", "project/pytest.ini", "-k", "tools.required", "-rs")
    result.assert_outcomes(skipped=1)  # opened from project/, not from the working directory
    result.stdout.fnmatch_lines(["*docker-archive:layers.tar*tools.required*the policy requires no tools*"])


def test_closing_removes_what_the_image_unpacked_even_when_a_step_fails(layouts):
    def scratch_dirs() -> set[Path]:  # an image's blobs go to this run's directory
        return set(workdir.run_directory().glob("image-*"))

    before = scratch_dirs()
    target = open_target("image", f"docker-archive:{layouts['docker-archive gzip']}")
    root = target.filesystem.root
    scratch = scratch_dirs() - before  # the decompressed archive's
    assert root.is_dir() and any((p / "archive.tar").exists() for p in scratch)

    def broken() -> None:
        raise OSError("the archive could not be closed")

    target.image.store.close = broken
    with pytest.raises(OSError, match="could not be closed"):
        target.close()
    assert not root.exists()
    assert not any(p.exists() for p in scratch)
