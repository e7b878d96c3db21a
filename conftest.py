"""Fixtures shared by the test suite: the real Docker engine and the reference images that
``scripts/testbed setup`` builds. Nothing here is a mock."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import docker
import pytest

import fipscheck
from fipscheck.model import CheckResult
from fipscheck.runner import scan
from fipscheck.targets import ImageTarget
from fipscheck.targets.engine import (
    HOST_LABEL,
    OWNER_LABEL,
    PID_LABEL,
    labels_of,
    owned_containers,
)

pytest_plugins = ["pytester"]

REFERENCE = "fipscheck/openssl-fips:latest"


def pytest_configure(config: pytest.Config) -> None:
    """Tests interrupt fipscheck processes with Ctrl-C. A test run started in the background
    by a non-interactive shell (``cmd &``) ignores SIGINT, and an ignored signal stays ignored
    in every process it starts (Python then installs no KeyboardInterrupt at all): take the
    default back, so the processes the tests start get Python's own SIGINT handling."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    try:
        return docker.from_env()
    except docker.errors.DockerException as error:
        pytest.fail(f"no Docker engine: run scripts/testbed setup ({error})")


@pytest.fixture(scope="session")
def image(engine):
    """Name of a reference image, asserted to exist (scripts/testbed setup builds them)."""
    def named(name: str) -> str:
        try:
            engine.images.get(name)
        except docker.errors.ImageNotFound:
            pytest.fail(f"reference image {name} is missing: run scripts/testbed setup")
        return name
    return named


def our_containers(engine: docker.DockerClient) -> list:
    return owned_containers(engine)


def pid_of(container) -> str:
    return labels_of(container).get(PID_LABEL, "")


def not_another_live_run(container) -> bool:
    return _ours_or_ended(labels_of(container))


def _ours_or_ended(labels: dict[str, str]) -> bool:
    """The engine is shared with other runs on this machine: a container whose creator is
    another process, still running, is that run's. This process's own always count, and so do
    those of processes that ended (a test's subprocesses have ended when it checks). Labels
    serve the tests' bookkeeping only: fipscheck itself trusts its run directories."""
    return labels.get(PID_LABEL) == str(os.getpid()) or not creator_alive(labels)


def creator_alive(labels: dict[str, str]) -> bool:
    """Whether the process named by a container's labels still runs on this host."""
    if labels.get(HOST_LABEL) != socket.gethostname():
        return False
    try:
        os.kill(int(labels.get(PID_LABEL, "0")), 0)
    except (ProcessLookupError, ValueError, OverflowError):
        return False
    except PermissionError:
        return True
    return int(labels.get(PID_LABEL, "0")) > 0


def containers_created_since(engine: docker.DockerClient, since: float, *pids: int) -> list[str]:
    """Names of fipscheck's containers created since ``since`` (a time.time()) by this process
    or the given ones, removed since or not: the engine's event log, not a listing."""
    creators = {str(pid) for pid in (os.getpid(), *pids)}
    events = engine.events(since=int(since), until=int(time.time()) + 1, decode=True,
                           filters={"type": "container", "event": "create",
                                    "label": f"{OWNER_LABEL}=fipscheck"})
    return [e["Actor"]["Attributes"].get("name", "?") for e in events
            if e["Actor"]["Attributes"].get(PID_LABEL) in creators]


DOUBLES = os.path.join(os.path.dirname(__file__), "tests", "doubles")


@pytest.fixture(scope="session")
def double(tmp_path_factory):
    """Builds one of the test doubles in tests/doubles/ into a shared library: ``double(name)``,
    or ``double(name, *cc_arguments, filename=...)`` for another build of it; all of them in
    one directory, which can be given to the linker (-L) and the loader (LD_LIBRARY_PATH)."""
    built = tmp_path_factory.mktemp("doubles")

    def build(name: str, *arguments: str, filename: str | None = None) -> str:
        library = built / (filename or f"{name}.so")
        if not library.exists():
            subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library),
                            os.path.join(DOUBLES, f"{name}.c"), *arguments], check=True)
        return str(library)
    return build


@pytest.fixture
def no_leaks(engine):
    """Fails the test if it leaves a container of fipscheck's behind."""
    before = {c.id for c in our_containers(engine)}
    yield
    leaked = [c.id[:12] for c in our_containers(engine)
              if c.id not in before and not_another_live_run(c)]
    assert not leaked, f"containers left behind: {leaked}"


@pytest.fixture(scope="session")
def run_in(engine):
    """Run a shell command inside a fresh container of an image (no network), removed after."""
    def run(image_name: str, command: str) -> tuple[int, str]:
        container = engine.containers.create(image_name, entrypoint=["sh", "-c", command],
                                             network_mode="none")
        try:
            container.start()
            code = container.wait(timeout=120)["StatusCode"]
            return code, container.logs().decode()
        finally:
            container.remove(force=True)
    return run


# python-fips's own site directory (Debian's patches to CPython name it dist-packages)
SITE_PACKAGES = "usr/local/lib/python3.13/dist-packages"
# Where pip may find wheels for python-fips's CPython 3.13 (glibc 2.41).
PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")


@pytest.fixture(scope="session")
def cryptography_wheel_image(engine, image, tmp_path_factory):
    """python-fips plus what `pip install cryptography` gives: a wheel whose extension carries
    its own OpenSSL. Made here, not by scripts/images.py, because pip reaches an index only
    with this host's configuration; removed at the end of the session."""
    wheels = tmp_path_factory.mktemp("wheels")
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                    "--python-version", "3.13", "--implementation", "cp", *platforms,
                    "--dest", str(wheels), "cryptography"], check=True, timeout=600)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as contents:
                for member in contents.infolist():
                    if member.is_dir():
                        continue
                    info = tarfile.TarInfo(f"{SITE_PACKAGES}/{member.filename}")
                    info.size, info.mode = member.file_size, 0o644
                    archive.addfile(info, contents.open(member))
    container = engine.containers.create(image("fipscheck/python-fips:latest"), entrypoint=["true"],
                                         network_mode="none")
    repository, tag = "fipscheck-test/python-fips-cryptography-wheel", str(os.getpid())
    try:
        container.put_archive("/", buffer.getvalue())
        made = container.commit(repository=repository, tag=tag)
    finally:
        container.remove(force=True)
    yield f"{repository}:{tag}"
    engine.images.remove(made.id, force=True)


@pytest.fixture(scope="session")
def running(engine, image):
    """Start a container of a reference image as a user would (its own entrypoint, no
    network, no fipscheck labels) and return it; removed at the end of the session."""
    started = []

    def start(image_name: str):
        container = engine.containers.run(image(image_name), detach=True, network_mode="none")
        started.append(container)
        container.reload()
        assert container.status == "running", container.logs().decode()
        return container

    yield start
    for container in started:
        container.remove(force=True)


def host_fips_enabled() -> str | None:
    """This machine's kernel FIPS switch, read directly (None: the kernel has none)."""
    try:
        with open("/proc/sys/crypto/fips_enabled") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


@pytest.fixture(scope="session")
def image_checks(image):
    """A scan of a reference image (every check, or the ones named), done once per session for
    each image and set of checks; results by check ID."""
    reports: dict[tuple[str, tuple[str, ...]], dict[str, CheckResult]] = {}

    def scanned(name: str, checks: list[str] | None = None) -> dict[str, CheckResult]:
        key = (name, tuple(checks or ()))
        if key not in reports:
            with ImageTarget(image(name)) as target:
                reports[key] = {r.id: r for r in scan(target, checks=checks).checks}
        return reports[key]
    return scanned


# -- image sources: a real registry on loopback, docker save archives, OCI layouts by skopeo --

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}/data
http:
  addr: 127.0.0.1:{port}
  secret: fipscheck-test
{tls}{auth}"""
TLS = """\
  tls:
    certificate: {root}/registry.crt
    key: {root}/registry.key
"""
HTPASSWD_AUTH = """\
auth:
  htpasswd:
    realm: fipscheck-test
    path: {root}/htpasswd
"""
TOKEN_AUTH = """\
auth:
  token:
    realm: http://127.0.0.1:{issuer_port}/token
    service: fipscheck-test-registry
    issuer: fipscheck-test-issuer
    rootcertbundle: {root}/issuer.crt
"""
REGISTRY_USER, REGISTRY_PASSWORD = "alice", "s3cret-for-tests"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalRegistry:
    """Debian's docker-registry (the distribution registry) on a free loopback port."""

    def __init__(self, root, auth: str = "", tls: bool = False) -> None:
        """``auth``: "" (open), "basic" (htpasswd) or "token" (bearer tokens of a TokenIssuer);
        ``tls``: HTTPS with a certificate of its own for 127.0.0.1 (``self.certificate``)."""
        import requests

        self.port = free_port()
        self.certificate = root / "registry.crt"
        if tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", str(root / "registry.key"), "-out", str(self.certificate)],
                           check=True, capture_output=True)
        self.host = f"127.0.0.1:{self.port}"
        self.auth = (REGISTRY_USER, REGISTRY_PASSWORD) if auth else None
        self.issuer = None
        section = ""
        if auth == "basic":
            hashed = subprocess.run(["htpasswd", "-Bbn", REGISTRY_USER, REGISTRY_PASSWORD],
                                    capture_output=True, text=True, check=True).stdout
            (root / "htpasswd").write_text(hashed)
            section = HTPASSWD_AUTH.format(root=root)
        elif auth == "token":
            self.issuer = TokenIssuer(root)
            section = TOKEN_AUTH.format(root=root, issuer_port=self.issuer.port)
        (root / "config.yml").write_text(REGISTRY_CONFIG.format(
            root=root, port=self.port, auth=section, tls=TLS.format(root=root) if tls else ""))
        self.url = f"{'https' if tls else 'http'}://{self.host}"
        self._log = open(root / "registry.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")],
                                        stdout=self._log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                requests.get(f"{self.url}/v2/", timeout=1, verify=str(self.certificate) if tls else True)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"docker-registry did not answer on {self.host}: {(root / 'registry.log').read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()
        if self.issuer is not None:
            self.issuer.stop()

    def push(self, engine: docker.DockerClient, image_name: str, repository: str, tag: str = "latest") -> str:
        """Push an engine image here as REPOSITORY:TAG; returns the pushed reference."""
        reference = f"{self.host}/{repository}"
        engine.images.get(image_name).tag(reference, tag)
        try:
            auth = {"username": self.auth[0], "password": self.auth[1]} if self.auth else None
            for event in engine.images.push(reference, tag, stream=True, decode=True, auth_config=auth):
                assert "error" not in event, event
        finally:
            engine.images.remove(f"{reference}:{tag}")  # only the tag: the engine keeps the image
        return f"{reference}:{tag}"

    def digest(self, repository: str, tag: str) -> str:
        import requests

        answer = requests.head(f"http://{self.host}/v2/{repository}/manifests/{tag}", auth=self.auth,
                               headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                                                  "application/vnd.oci.image.index.v1+json"}, timeout=30)
        answer.raise_for_status()
        return answer.headers["Docker-Content-Digest"]


class TokenIssuer:
    """The token service of Docker's token authentication, as a test double: no such service
    is packaged here (Docker Hub's is not reachable). It issues RS256 JWTs signed by a key whose
    self-signed certificate the real registry trusts (``rootcertbundle``, ``x5c`` header),
    granting every action to the test user and pulls under ``public/`` to anyone."""

    def __init__(self, root) -> None:
        import http.server
        import threading

        self.key, self.cert = root / "issuer.key", root / "issuer.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=fipscheck-test-issuer", "-keyout", str(self.key),
                        "-out", str(self.cert)],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "der"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests: list[dict] = []  # what was asked for, and with which credentials
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.answer(self)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, request) -> None:
        from urllib.parse import parse_qs, urlparse

        query = parse_qs(urlparse(request.path).query)
        expected = "Basic " + base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_PASSWORD}".encode()).decode()
        given = request.headers.get("Authorization")
        if given is not None and given != expected:
            request.send_response(401)
            request.end_headers()
            return
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            allowed = actions.split(",") if given else (["pull"] if name.startswith("public/") else [])
            access.append({"type": kind, "name": name,
                           "actions": [a for a in actions.split(",") if a in allowed]})
        self.requests.append({"scope": query.get("scope", []), "user": bool(given)})
        body = json.dumps({"token": self.token(query["service"][0], access)}).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def token(self, service: str, access: list[dict]) -> str:
        def part(value: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        now = int(time.time())
        signed = part({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}) + "." + part({
            "iss": "fipscheck-test-issuer", "sub": REGISTRY_USER, "aud": service, "exp": now + 600,
            "nbf": now - 60, "iat": now, "jti": os.urandom(8).hex(), "access": access})
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signed.encode(), check=True, capture_output=True).stdout
        return signed + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def running_registry(tmp_path_factory, name: str, **options):
    """A LocalRegistry for a session fixture, stopped at its end."""
    running = LocalRegistry(tmp_path_factory.mktemp(name), **options)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """An open registry on loopback (the engine pushes to 127.0.0.0/8 over plain HTTP)."""
    yield from running_registry(tmp_path_factory, "registry")


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory):
    """A registry that asks for basic authentication (htpasswd, bcrypt)."""
    yield from running_registry(tmp_path_factory, "auth-registry", auth="basic")


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory):
    """A registry over HTTPS, its certificate its own (trusted only by who is told to)."""
    yield from running_registry(tmp_path_factory, "tls-registry", tls=True)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory):
    """A registry that asks for bearer tokens (Docker's token authentication)."""
    yield from running_registry(tmp_path_factory, "token-registry", auth="token")


@pytest.fixture(scope="session")
def saved(engine, image, tmp_path_factory):
    """``docker save`` archives of engine images, made once per session."""
    archives: dict[str, str] = {}
    directory = tmp_path_factory.mktemp("saved")

    def save(name: str) -> str:
        if name not in archives:
            path = directory / (name.replace("/", "_").replace(":", "_") + ".tar")
            with open(path, "wb") as out:
                for chunk in engine.images.get(image(name)).save(named=True):
                    out.write(chunk)
            archives[name] = str(path)
        return archives[name]
    return save


LAYERS_DOCKERFILE = """\
FROM fipscheck-base:trixie
RUN mkdir -p /data/gone-dir/sub /data/opaque /data/dir \\
 && echo one > /data/dir/gone && echo keep > /data/keep && echo old > /data/opaque/old \\
 && echo orig > /data/file-to-dir && mkdir /data/dir-to-file && echo x > /data/dir-to-file/inner \\
 && echo deep > /data/gone-dir/sub/deep && ln -s keep /data/link
RUN rm /data/dir/gone && rm -rf /data/opaque /data/gone-dir && mkdir /data/opaque \\
 && echo new > /data/opaque/new && ln /data/keep /data/hardlink \\
 && rm /data/file-to-dir && mkdir /data/file-to-dir && rm -r /data/dir-to-file \\
 && echo file > /data/dir-to-file && chmod 0750 /data/dir \\
 && printf '#!/bin/sh\\n' > /data/tool && chmod 0755 /data/tool \\
 && rm -f /usr/lib/x86_64-linux-gnu/libhogweed.so.6* && ln -sf /data/missing /data/link
ENV OPENSSL_CONF=/data/openssl.cnf GODEBUG=fips140=on
WORKDIR /data
USER 1000
"""


@pytest.fixture(scope="session")
def layered_image(engine, image, tmp_path_factory):
    """A small image whose later layer deletes files and directories (whiteouts), empties and
    recreates directories (opaque), replaces a file by a directory and back, hard-links a
    file of a lower layer and changes a mode: built once per session, removed after."""
    image("fipscheck-base:trixie")
    context = tmp_path_factory.mktemp("layers")
    (context / "Dockerfile").write_text(LAYERS_DOCKERFILE)
    name = f"fipscheck-test/layers:{os.getpid()}"
    built, _ = engine.images.build(path=str(context), tag=name, network_mode="none", rm=True)
    yield name
    engine.images.remove(built.id, force=True)


def skopeo(*args: str) -> None:
    """Debian's skopeo (installed by scripts/testbed setup), for OCI layouts made by a tool
    other than fipscheck."""
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="session")
def static_scan(image_checks):
    """The static checks (linkage.libcrypto, libraries.banned) on a reference image."""
    return lambda name: image_checks(name, ["linkage.libcrypto", "libraries.banned"])


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> dict[str, Path]:
    """scripts/wheels.py run once: the sdist and both wheels, and what the build printed."""
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # not ours to warn of
    script = Path(__file__).resolve().parent / "scripts" / "wheels.py"
    done = subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True,
                          text=True, timeout=1200, env=dict(env, WERROR="-Werror"))
    assert done.returncode == 0, done.stderr[-4000:]
    version = fipscheck.__version__
    files = {"sdist": out / f"fipscheck-{version}.tar.gz"}
    for arch in ("x86_64", "aarch64"):
        tags = f"cp310-abi3-manylinux2014_{arch}.manylinux_2_17_{arch}"
        files[arch] = out / f"fipscheck-{version}-{tags}.whl"
    assert sorted(out.iterdir()) == sorted(files.values())
    return {**files, "log": done.stderr}
