"""registry: sources, --pull of engine images and --platform, against Debian's docker-registry
on loopback (an open one and one asking for basic authentication), images pushed there by the
engine, and a multi-arch index made of an amd64 and an arm64 image."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from conftest import REGISTRY_PASSWORD, REGISTRY_USER, free_port, skopeo

from fipscheck.errors import TargetError
from fipscheck.targets import SourceOptions, open_target
from fipscheck.targets.oci import OCI_INDEX, Platform

FIPSCHECK = str(Path(sys.executable).with_name("fipscheck"))
REFERENCE = "fipscheck/openssl-fips:latest"
INSECURE = SourceOptions(insecure_registry=True)


def fipscheck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([FIPSCHECK, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def pushed_reference(registry, engine, image):
    return registry.push(engine, image(REFERENCE), "fips/openssl-fips")


def test_a_registry_image_by_tag_is_checked_without_the_engine(pushed_reference, saved, tmp_path):
    """No daemon: the layers come from the registry; runtime checks say why they do not run."""
    done = fipscheck("scan", f"registry:{pushed_reference}", "--insecure-registry", "--format", "json",
                     env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    results = {c["id"]: c for c in report["checks"]}
    assert results["openssl.config"]["status"] == "pass"
    assert results["linkage.libcrypto"]["status"] == "pass"
    assert results["openssl.fips-provider"]["status"] == "skip"
    target = report["target"]
    assert target["source"] == "registry" and target["platform"] == "linux/amd64"
    assert target["config"]["env"]["OPENSSL_CONF"]
    assert "MiB fetched" in done.stderr  # the progress line's last state


def test_by_digest_with_runtime_checks_in_the_engine(registry, pushed_reference, engine, image, no_leaks):
    digest = registry.digest("fips/openssl-fips", "latest")
    source = f"registry:{registry.host}/fips/openssl-fips@{digest}"
    done = fipscheck("scan", source, "--insecure-registry", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["target"]["digest"] == digest
    assert report["target"]["image_id"] == engine.images.get(image(REFERENCE)).id
    results = {c["id"]: c for c in report["checks"]}
    assert results["openssl.fips-provider"]["status"] == "pass"  # run in the engine


def test_a_wrong_digest_is_refused(registry, pushed_reference):
    wrong = "sha256:" + "0" * 64
    with pytest.raises(TargetError, match="no such image"):
        open_target("image", f"registry:{registry.host}/fips/openssl-fips@{wrong}", INSECURE)


def test_a_missing_tag_is_no_such_image(registry, pushed_reference):
    done = fipscheck("scan", f"registry:{registry.host}/fips/openssl-fips:no-such-tag", "--insecure-registry")
    assert done.returncode == 2
    assert "no such image" in done.stderr and "no-such-tag" in done.stderr


def test_a_registry_that_is_down(tmp_path):
    port = free_port()
    done = fipscheck("scan", f"registry:127.0.0.1:{port}/any/image:1", "--insecure-registry")
    assert done.returncode == 2
    assert f"cannot reach the registry 127.0.0.1:{port}" in done.stderr


def test_plain_http_only_on_loopback():
    with pytest.raises(TargetError, match="only for a registry on this machine"):
        open_target("image", "registry:registry.example/app:1", INSECURE)


def test_without_insecure_registry_tls_is_required(registry, pushed_reference):
    with pytest.raises(TargetError, match="cannot reach the registry"):
        open_target("image", f"registry:{pushed_reference}")


def test_https_registries_are_verified_against_the_system_trust_store(tls_registry, engine, image):
    """The registry's own CA is trusted once it is in the trust store (SSL_CERT_FILE here; a
    company CA in /etc/ssl/certs on a real machine), and refused before. (The bundles that
    name requests' own trust, which this machine sets, are left out.)"""
    pushed = tls_registry.push(engine, image("fipscheck-base:trixie"), "tls/base")
    args = [FIPSCHECK, "scan", f"registry:{pushed}", "--check", "tools.required", "--require-tool", "sh"]
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                                            "SSL_CERT_FILE", "SSL_CERT_DIR")}
    untrusted = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert untrusted.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    trusted = subprocess.run(args, capture_output=True, text=True, timeout=600,
                             env={**env, "SSL_CERT_FILE": str(tls_registry.certificate)})
    assert trusted.returncode == 0, trusted.stderr


@pytest.fixture(scope="module")
def auth_pushed(auth_registry, engine, image):
    return auth_registry.push(engine, image("fipscheck-base:trixie"), "private/base")


def docker_config(directory: Path, registry: str, user: str, password: str) -> dict[str, str]:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))
    return {"DOCKER_CONFIG": str(directory)}


def test_basic_auth_from_the_docker_config(auth_registry, auth_pushed, tmp_path):
    args = ("scan", f"registry:{auth_pushed}", "--insecure-registry", "--check", "libraries.banned")
    anonymous = fipscheck(*args, env={"DOCKER_CONFIG": str(tmp_path)})
    assert anonymous.returncode == 2
    assert "asks for credentials and the Docker configuration has none" in anonymous.stderr
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    refused = fipscheck(*args, env=docker_config(wrong, auth_registry.host, REGISTRY_USER, "not-it"))
    assert refused.returncode == 2 and "refused the credentials" in refused.stderr
    right = tmp_path / "right"
    right.mkdir()
    done = fipscheck(*args, env=docker_config(right, auth_registry.host, REGISTRY_USER, REGISTRY_PASSWORD))
    assert done.returncode == 1, done.stderr  # the Debian base carries Nettle and GnuTLS's kin
    assert "libnettle" in done.stdout


def test_bearer_tokens_anonymous_and_with_credentials(token_registry, engine, image, tmp_path):
    """Docker's token authentication, as every public registry speaks it: an anonymous pull
    token for a public repository, the Docker configuration's credentials for a private one."""
    base = image("fipscheck-base:trixie")
    public = token_registry.push(engine, base, "public/base")
    private = token_registry.push(engine, base, "private/base")
    issuer = token_registry.issuer
    nobody = {"DOCKER_CONFIG": str(tmp_path)}
    args = ("--insecure-registry", "--check", "tools.required", "--require-tool", "sh")
    issuer.requests.clear()
    anonymous = fipscheck("scan", f"registry:{public}", *args, env=nobody)
    assert anonymous.returncode == 0, anonymous.stderr
    assert issuer.requests == [{"scope": ["repository:public/base:pull"], "user": False}]
    refused = fipscheck("scan", f"registry:{private}", *args, env=nobody)
    assert refused.returncode == 2 and "refused the credentials" in refused.stderr
    right = tmp_path / "right"
    right.mkdir()
    issuer.requests.clear()
    done = fipscheck("scan", f"registry:{private}", *args,
                     env=docker_config(right, token_registry.host, REGISTRY_USER, REGISTRY_PASSWORD))
    assert done.returncode == 0, done.stderr
    assert issuer.requests == [{"scope": ["repository:private/base:pull"], "user": True}]


@pytest.fixture(scope="module")
def unknown_to_the_engine(engine, image, registry, saved, tmp_path_factory):
    """The reference image with a label of its own (so an ID no engine holds), as a docker
    save archive, in the registry, and as a zstd OCI layout; then removed from the engine."""
    context = tmp_path_factory.mktemp("unknown")
    (context / "Dockerfile").write_text(f"FROM {image(REFERENCE)}\nLABEL org.fipscheck.test={os.getpid()}\n")
    built, _ = engine.images.build(path=str(context), network_mode="none", rm=True)
    archive = context / "unknown.tar"
    with open(archive, "wb") as out:
        for chunk in built.save(named=False):
            out.write(chunk)
    built.tag("fipscheck-test/unknown", "push")
    pushed = registry.push(engine, "fipscheck-test/unknown:push", "unknown/openssl-fips")
    engine.images.remove("fipscheck-test/unknown:push")  # its last tag: the image goes with it
    skopeo("copy", "--src-tls-verify=false", "--dest-compress", "--dest-compress-format", "zstd",
           f"docker://{pushed}", f"oci:{context}/zstd:unknown")
    assert built.id not in {i.id for i in engine.images.list(all=True)}
    return {"docker-archive": f"docker-archive:{archive}", "registry": f"registry:{pushed}",
            "oci-dir zstd": f"oci-dir:{context}/zstd"}


@pytest.mark.parametrize("kind", ["docker-archive", "registry", "oci-dir zstd"])
def test_an_image_the_engine_lacks_is_loaded_for_runtime_checks_and_removed(unknown_to_the_engine, kind,
                                                                             engine, no_leaks):
    done = fipscheck("scan", unknown_to_the_engine[kind], "--insecure-registry", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    results = {c["id"]: c for c in report["checks"]}
    assert results["openssl.fips-provider"]["status"] == "pass"  # ran in a container of the loaded image
    assert results["openssl.config"]["status"] == "pass"
    assert "loaded sha256:" in done.stderr
    assert report["target"]["image_id"] not in {i.id for i in engine.images.list(all=True)}


# -- --platform: a multi-arch index ------------------------------------------------------------

@pytest.fixture(scope="module")
def multi_arch(registry, engine, layered_image, tmp_path_factory):
    """An index in the registry listing the layered amd64 image and a small arm64 image (built
    FROM scratch for linux/arm64), as `docker manifest create` would write it; and the same
    index copied by skopeo into an OCI layout."""
    context = tmp_path_factory.mktemp("arm64")
    (context / "etc").mkdir()
    (context / "etc/arch").write_text("arm64\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY etc /etc\nENV ARCH=arm64\n")
    arm, _ = engine.images.build(path=str(context), platform="linux/arm64", network_mode="none", rm=True)
    registry.push(engine, layered_image, "multi/app", "amd64")
    registry.push(engine, arm.id, "multi/app", "arm64")  # untagged after: the engine drops it
    manifests = []
    for tag, arch in (("amd64", "amd64"), ("arm64", "arm64")):
        answer = requests.get(f"http://{registry.host}/v2/multi/app/manifests/{tag}", timeout=30,
                              headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        answer.raise_for_status()
        manifests.append({"mediaType": answer.headers["Content-Type"], "size": len(answer.content),
                          "digest": answer.headers["Docker-Content-Digest"],
                          "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    requests.put(f"http://{registry.host}/v2/multi/app/manifests/latest", data=index, timeout=30,
                 headers={"Content-Type": OCI_INDEX}).raise_for_status()
    layout = tmp_path_factory.mktemp("multi") / "layout"
    skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{registry.host}/multi/app:latest",
           f"oci:{layout}:latest")
    return {"registry": f"registry:{registry.host}/multi/app:latest", "oci-dir": f"oci-dir:{layout}"}


@pytest.mark.parametrize("kind", ["registry", "oci-dir"])
def test_platform_selects_from_a_multi_arch_index(multi_arch, kind):
    source = multi_arch[kind]
    with open_target("image", source, INSECURE) as target:  # this machine's platform by default
        assert target.describe()["platform"] == "linux/amd64"
        assert target.filesystem.is_file("/data/keep")
    arm64 = SourceOptions(insecure_registry=True, platform=Platform.parse("linux/arm64"))
    with open_target("image", source, arm64) as target:
        described = target.describe()
        assert described["platform"] == "linux/arm64"
        assert described["digest"] != described["manifest_digest"]  # the index's, and the arm64 one's
        assert target.filesystem.read_text("/etc/arch") == "arm64\n"
        assert target.config.env["ARCH"] == "arm64"
        assert not target.can_run
        assert "the image is linux/arm64" in target.cannot_run_reason
    s390x = SourceOptions(insecure_registry=True, platform=Platform.parse("linux/s390x"))
    with pytest.raises(TargetError, match=r"no linux/s390x image .*linux/amd64, linux/arm64"):
        open_target("image", source, s390x)


def test_an_arm64_image_gets_static_checks_and_runtime_skips(multi_arch):
    done = fipscheck("scan", multi_arch["registry"], "--insecure-registry", "--platform", "linux/arm64",
                     "--format", "json")
    report = json.loads(done.stdout)
    results = {c["id"]: c for c in report["checks"]}
    assert results["algorithms.approved"]["status"] == "skip"
    assert "the image is linux/arm64 and the engine" in results["algorithms.approved"]["message"]
    # read statically all the same: its one file is no ELF object, so there is nothing to judge
    assert results["libraries.banned"]["status"] == "skip"
    assert "no ELF object among the 1 files" in results["libraries.banned"]["message"]
    assert report["target"]["platform"] == "linux/arm64"


def test_an_engine_image_of_another_platform_gets_static_checks_only(registry, multi_arch, engine, no_leaks):
    name = f"{registry.host}/multi/app:latest"
    try:
        done = fipscheck("scan", f"docker:{name}", "--platform", "linux/arm64", "--pull", "always",
                         "--format", "json")
        report = json.loads(done.stdout)
        assert report["target"]["platform"] == "linux/arm64"
        assert report["target"]["config"]["env"]["ARCH"] == "arm64"
        results = {c["id"]: c for c in report["checks"]}
        assert results["openssl.fips-provider"]["status"] == "skip"
        assert "the image is linux/arm64 and the engine" in results["openssl.fips-provider"]["message"]
        assert "no ELF object among the" in results["libraries.banned"]["message"]  # read statically
        # held for arm64 now: asking for this machine's platform without pulling is refused
        held = fipscheck("scan", name, "--platform", "linux/amd64", "--pull", "never")
        assert held.returncode == 2 and "holds it for linux/arm64, not linux/amd64" in held.stderr
    finally:
        engine.images.remove(name, force=True)


# -- --pull for engine images ----------------------------------------------------------------

def test_pull_policies_of_engine_images(registry, engine, layered_image, no_leaks):
    pushed = registry.push(engine, layered_image, "pulled/layers", "v1")
    args = ("scan", pushed, "--check", "tools.required", "--require-tool", "sh", "--format", "json")
    never = fipscheck(*args, "--pull", "never")
    assert never.returncode == 2 and "--pull never forbids pulling it" in never.stderr
    try:
        missing = fipscheck(*args)  # default: missing -> pulled by the engine, progress on stderr
        assert missing.returncode == 0, missing.stderr
        assert f"pulling {pushed}" in missing.stderr and f"pulled {pushed}" in missing.stderr
        target = json.loads(missing.stdout)["target"]
        assert target["source"] == "docker" and any(d.startswith(f"{registry.host}/pulled/layers@sha256:")
                                                    for d in target["digests"])
        present = fipscheck(*args)  # now held: not pulled again
        assert present.returncode == 0 and "pulling" not in present.stderr
        again = fipscheck(*args, "--pull", "always")
        assert again.returncode == 0 and f"pulled {pushed}" in again.stderr
    finally:
        engine.images.remove(pushed)


def test_pull_of_a_missing_image_fails_with_the_engines_reason(registry):
    done = fipscheck("scan", f"{registry.host}/no/such:image", "--pull", "always")
    assert done.returncode == 2
    assert f"cannot pull {registry.host}/no/such:image" in done.stderr


def test_pytest_takes_the_same_sources(pytester, multi_arch, saved, layered_image):
    result = pytester.runpytest_subprocess(
        f"--fips-image={multi_arch['registry']}", "--fips-insecure-registry", "--fips-platform=linux/arm64",
        "-k", "libraries or algorithms.approved", "-rs")
    result.assert_outcomes(skipped=2)  # libraries.banned: the arm64 image holds no ELF object
    result.stdout.fnmatch_lines(["*algorithms.approved*the image is linux/arm64*"])
    archive = Path(saved(layered_image))
    result = pytester.runpytest_subprocess(f"--fips-image=docker-archive:{archive}", "-k", "openssl.config")
    result.assert_outcomes(failed=1)  # OPENSSL_CONF of the image names a file that is not there
    result.stdout.fnmatch_lines(["*/data/openssl.cnf*"])
