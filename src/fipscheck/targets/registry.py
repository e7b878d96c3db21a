"""Images pulled from a registry without a daemon (``registry:REF``), over the distribution
API (``/v2/``): manifests and blobs by digest, basic and bearer-token authentication with the
credentials of the Docker configuration (``DOCKER_CONFIG`` or ``~/.docker/config.json``, its
credential helpers included, through the Docker SDK's reader of it).

A small client on ``requests`` rather than a library: the Python registry clients on PyPI
(oras-py, docker-registry-client) read manifests and blobs without bounds and choose no
platform; here every response is bounded (manifests 4 MiB, token answers 1 MiB, blobs their
declared size), and every blob is verified against its digest when it is read.
Blobs are downloaded into a private directory laid out as an OCI image layout, from which the
layers are applied and, for runtime checks, the image is loaded into an engine.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import requests

from .. import __version__
from ..errors import TargetError
from ..progress import ProgressLine
from .oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Candidate,
    Descriptor,
    Image,
    Platform,
    candidates,
    choose,
    json_object,
    load_json,
    read_json_blob,
    resolve,
)

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
MAX_TOKEN_ANSWER = 1 << 20
MAX_ERROR_BODY = 64 << 10
TIMEOUT = (10, 60)  # connect, and between two reads
CHUNK = 1 << 20

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?")


@dataclass(frozen=True)
class Reference:
    """An image reference as the distribution project's grammar reads it: a first component
    with a dot, a colon or ``localhost`` is the registry, else Docker Hub (``library/`` for
    official images); a tag, a digest, or both (the digest decides)."""

    registry: str
    repository: str
    tag: str
    digest: str

    @classmethod
    def parse(cls, text: str) -> Reference:
        name, _, digest = text.partition("@")
        if digest and not DIGEST.fullmatch(digest):
            raise ValueError(f"not a digest: {digest!r} in {text!r}")
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, rest
            if registry in ("index.docker.io", DOCKER_HUB_API):
                registry = DOCKER_HUB
        else:
            registry, path = DOCKER_HUB, name
        path, _, tag = path.rpartition(":") if ":" in path else (path, "", "")
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        if not HOST.fullmatch(registry) or not REPOSITORY.fullmatch(path) or (tag and not TAG.fullmatch(tag)):
            raise ValueError(f"not an image reference: {text!r}")
        return cls(registry, path, tag or ("" if digest else "latest"), digest)

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def on_loopback(self) -> bool:
        host = self.registry.rsplit(":", 1)[0] if not self.registry.endswith("]") else self.registry
        host = host.strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return (f"{self.registry}/{self.repository}" + (f":{self.tag}" if self.tag else "")
                + (f"@{self.digest}" if self.digest else ""))


def system_trust() -> str | bool:
    """The system's CA certificates (``SSL_CERT_FILE``, else OpenSSL's default file), as the
    engine and skopeo trust them: requests alone would use certifi's bundle and miss a
    company's own CA. ``REQUESTS_CA_BUNDLE`` still wins (requests reads it per request)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    return True


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}


def docker_credentials(registry: str) -> tuple[str, str] | None:
    """Username and password for ``registry`` from the Docker configuration, its credential
    store or helper included, as ``docker pull`` finds them."""
    import docker.auth
    import docker.errors

    try:
        config = docker.auth.load_config()
        entry = config.resolve_authconfig(None if registry == DOCKER_HUB else registry)
    except docker.errors.DockerException as error:
        raise TargetError(f"cannot read credentials for {registry} from the Docker configuration: "
                          f"{error}") from None
    if not entry:
        return None
    user = entry.get("username") or entry.get("Username")
    password = entry.get("password") or entry.get("Password")
    return (user, password) if user and password is not None else None


def _bounded_body(response: requests.Response, limit: int, what: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TargetError(f"{what} is {declared} bytes, more than the {limit} allowed")
    data = response.raw.read(limit + 1, decode_content=True)
    if len(data) > limit:
        raise TargetError(f"{what} is larger than {limit} bytes")
    return data


class Registry:
    """One repository of one registry, with the authorisation its challenge asked for."""

    def __init__(self, ref: Reference, insecure: bool) -> None:
        if insecure and not ref.on_loopback:
            raise TargetError(f"--insecure-registry (plain HTTP) is only for a registry on this machine "
                              f"(localhost, 127.0.0.0/8, [::1]); {ref.registry} is not")
        self.ref = ref
        self.insecure = insecure
        self._base = f"{'http' if insecure else 'https'}://{ref.api_host}/v2/{ref.repository}/"
        self._session = requests.Session()
        self._session.max_redirects = 5  # blob downloads are often redirected to a CDN
        self._session.headers["User-Agent"] = f"fipscheck/{__version__}"
        self._session.verify = system_trust()
        self._authorization = ""

    def close(self) -> None:
        self._session.close()

    def get(self, path: str, accept: str = "") -> requests.Response:
        """GET below the repository; a 401 is answered once with the challenge's scheme."""
        for attempt in (1, 2):
            headers = {"Accept": accept} if accept else {}
            if self._authorization:
                headers["Authorization"] = self._authorization
            try:
                response = self._session.get(self._base + path, headers=headers, stream=True,
                                             timeout=TIMEOUT)
            except requests.RequestException as error:
                raise TargetError(f"cannot reach the registry {self.ref.registry}: {error}") from None
            if response.status_code != 401 or attempt == 2:
                return response
            challenge = response.headers.get("WWW-Authenticate", "")
            response.close()
            self._authorization = self._authorize(challenge)
        raise AssertionError("unreachable")

    def _authorize(self, challenge: str) -> str:
        scheme, params = _challenge(challenge)
        credentials = docker_credentials(self.ref.registry)
        if scheme == "basic":
            if credentials is None:
                raise TargetError(f"{self.ref.registry} asks for credentials and the Docker "
                                  "configuration has none for it (docker login)")
            return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        if scheme == "bearer" and params.get("realm"):
            return "Bearer " + self._token(params, credentials)
        raise TargetError(f"{self.ref.registry} asks for an authentication fipscheck does not "
                          f"speak: {challenge[:200]!r}")

    def _token(self, params: dict[str, str], credentials: tuple[str, str] | None) -> str:
        """A pull token from the challenge's realm (the Docker token protocol)."""
        realm = params["realm"]
        if not realm.startswith("https://") and not (self.insecure and realm.startswith("http://")):
            raise TargetError(f"{self.ref.registry} sends for a token to {realm!r}, not over HTTPS")
        query = {"scope": params.get("scope") or f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        try:
            with self._session.get(realm, params=query, auth=credentials, stream=True,
                                   timeout=TIMEOUT) as response:
                if response.status_code != 200:
                    raise TargetError(f"the token service of {self.ref.registry} refused: HTTP "
                                      f"{response.status_code}")
                answer = load_json(_bounded_body(response, MAX_TOKEN_ANSWER, "the token answer"),
                                   MAX_TOKEN_ANSWER, "the token answer")
        except requests.RequestException as error:
            raise TargetError(f"cannot reach the token service of {self.ref.registry}: {error}") from None
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TargetError(f"the token service of {self.ref.registry} gave no token")
        return token

    def failure(self, response: requests.Response, what: str) -> TargetError:
        """The registry's refusal, in its own words (its JSON error body, bounded)."""
        try:
            body = load_json(response.raw.read(MAX_ERROR_BODY, decode_content=True), MAX_ERROR_BODY,
                             "an error")
            words = "; ".join(str(e.get("message") or e.get("code")) for e in body.get("errors", [])
                              if isinstance(e, dict))
        except (TargetError, AttributeError, requests.RequestException, OSError):
            words = ""
        response.close()
        said = f" ({words})" if words else ""
        status = response.status_code
        if status == 404:
            return TargetError(f"no such image: {what} is not in {self.ref.registry}{said}")
        if status == 401:
            return TargetError(f"{self.ref.registry} refused the credentials for {what}{said}")
        return TargetError(f"{self.ref.registry} answered HTTP {status} for {what}{said}")


class RegistryStore:
    """The blobs of one image, downloaded on first use into an OCI layout directory of ours;
    whoever reads them verifies them (oci.VerifiedReader), downloads are bounded by size."""

    def __init__(self, registry: Registry, directory: Path, progress: ProgressLine) -> None:
        self.where = str(registry.ref)
        self._registry, self._dir, self._progress = registry, directory, progress
        self.downloaded = 0

    def manifest(self, reference: str) -> Descriptor:
        """The manifest or index a tag or digest names, kept as a blob of the layout."""
        with self._registry.get(f"manifests/{reference}", ACCEPT) as response:
            if response.status_code != 200:
                raise self._registry.failure(response, self.where)
            data = _bounded_body(response, MAX_MANIFEST, f"the manifest of {self.where}")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        algorithm = reference.split(":", 1)[0] if DIGEST.fullmatch(reference) else "sha256"
        digest = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
        if DIGEST.fullmatch(reference) and digest != reference:
            raise TargetError(f"the registry's manifest for {self.where} does not match its digest")
        if media_type not in INDEX_TYPES | MANIFEST_TYPES:
            media_type = _media_type_of(load_json(data, MAX_MANIFEST, f"the manifest of {self.where}"))
        descriptor = Descriptor(media_type, digest, len(data))
        self._store(descriptor, data)
        return descriptor

    def close(self) -> None:
        self._registry.close()

    def _store(self, descriptor: Descriptor, data: bytes) -> None:
        path = self._dir / descriptor.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def open(self, descriptor: Descriptor) -> BinaryIO:
        path = self._dir / descriptor.path
        if not path.exists():
            if descriptor.media_type in INDEX_TYPES | MANIFEST_TYPES:
                fetched = self.manifest(descriptor.digest)
                if fetched.size != descriptor.size:
                    raise TargetError(f"manifest {descriptor.digest} is not of its declared size")
            else:
                self._download(descriptor, path)
        return open(path, "rb")

    def _download(self, descriptor: Descriptor, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._registry.get(f"blobs/{descriptor.digest}") as response:
            if response.status_code != 200:
                raise self._registry.failure(response, f"blob {descriptor.digest} of {self.where}")
            with open(path, "wb") as out:
                got = 0
                try:
                    while chunk := response.raw.read(CHUNK, decode_content=False):
                        got += len(chunk)
                        if got > descriptor.size:
                            raise TargetError(f"blob {descriptor.digest} of {self.where} is larger "
                                              f"than its declared {descriptor.size} bytes")
                        out.write(chunk)
                        self.downloaded += len(chunk)
                        self._progress.update(f"fetching {self.where}: {self.downloaded / 2**20:.1f} MiB")
                except (requests.RequestException, OSError) as error:
                    raise TargetError(f"download of blob {descriptor.digest} broke off: {error}") from None
        if got != descriptor.size:
            raise TargetError(f"blob {descriptor.digest} of {self.where} has {got} bytes, not the "
                              f"declared {descriptor.size}")


def _media_type_of(document: Any) -> str:
    """An OCI manifest may leave out its mediaType; its fields tell it then."""
    document = json_object(document, "a manifest")
    declared = document.get("mediaType")
    if declared in INDEX_TYPES | MANIFEST_TYPES:
        return cast(str, declared)  # one of the media types above
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST


def pull(ref: Reference, insecure: bool, wanted: Platform | None, directory: Path,
         progress: ProgressLine) -> Image:
    """Resolve ``ref`` to one image for the platform and read its manifest and configuration;
    its layers are downloaded when first opened."""
    store = RegistryStore(Registry(ref, insecure), directory, progress)
    try:
        top = store.manifest(ref.digest or ref.tag)
        if top.media_type in INDEX_TYPES:
            index = read_json_blob(store, top, MAX_MANIFEST, f"the index of {ref}")
            chosen = choose(list(candidates(store, index, root=top.digest)), str(ref), wanted)
        else:
            chosen = Candidate(top, "", top.digest)
        return resolve(store, chosen, top.digest, wanted)
    except BaseException:
        store.close()
        raise
