"""Java runtimes in the target: each JVM (``libjvm.so`` defining ``JNI_CreateJavaVM``), the
security providers it would install, in order, and the crypto jars on the class path.

The provider list is ``security.provider.N`` (N = 1, 2, ... up to the first gap, as the JDK
reads it) of the ``java.security`` the runtime reads (``conf/security`` since Java 9,
``lib/security`` before), merged with or replaced by ``-Djava.security.properties=FILE``
(``==FILE`` replaces) when ``security.overridePropertiesFile`` allows it. JVM options come
from ``JAVA_TOOL_OPTIONS``, ``JDK_JAVA_OPTIONS``, ``_JAVA_OPTIONS`` and the ``java`` command
the image starts with. Where the target can run commands, the runtime's own ``java`` lists
its providers (``-XshowSettings:security:providers``) inside the target's container.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import EvidenceError
from .runtime_objects import objects_defining

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

LIBJVM = re.compile(r"^libjvm\.so$")
OPTION_VARIABLES = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")
MAX_CONFIG = 4 << 20
MAX_JAR_ENTRIES = 200_000
LIBRARY_DIRS = ("/usr/share/java",)  # where distributions install jars any app may add
BC_PROVIDER = "org/bouncycastle/jce/provider/BouncyCastleProvider.class"
BC_FIPS_PROVIDER = "org/bouncycastle/jcajce/provider/BouncyCastleFipsProvider.class"
NESTED_BCPROV = re.compile(r"(^|/)bcprov[^/]*\.jar$")
PROVIDER_LINE = re.compile(r"^\s*Provider name: (\S+)\s*$", re.M)


@dataclass(frozen=True)
class JavaOptions:
    properties: dict[str, str]  # -Dkey=value, later ones winning
    class_path: list[str]
    sources: dict[str, list[str]]  # the options of each source (a variable, the command)

    @classmethod
    def parse(cls, words: dict[str, list[str]], classpath_env: str | None) -> JavaOptions:
        properties: dict[str, str] = {}
        class_path = [p for p in (classpath_env or "").split(":") if p]
        for words_of_source in words.values():
            it = iter(words_of_source)
            for word in it:
                if word.startswith("-D") and "=" in word:
                    key, value = word[2:].split("=", 1)
                    properties[key] = value
                elif word in ("-cp", "-classpath", "--class-path"):
                    class_path = [p for p in next(it, "").split(":") if p]
                elif word == "-jar":
                    class_path = [next(it, "")]
        return cls(properties, class_path, words)


@dataclass
class JavaRuntime:
    home: str
    libjvm: str
    version: str | None
    security_files: list[str]  # read, in order
    properties: dict[str, str]  # the effective security properties that matter here
    providers: list[tuple[str, str | None]]  # (name or class, argument), in order
    pkcs11_configs: dict[str, dict[str, str]]  # SunPKCS11 argument -> its configuration
    run: dict[str, Any] | None = None


@dataclass
class JavaRuntimes:
    runtimes: list[JavaRuntime] = field(default_factory=list)
    options: JavaOptions | None = None
    jars: dict[str, list[str]] = field(default_factory=dict)  # jar -> BouncyCastle kinds found
    class_path_jars: list[str] = field(default_factory=list)
    malformed: dict[str, str] = field(default_factory=dict)


def java_command(ctx: ScanContext) -> list[str]:
    """The JVM options of the ``java`` command the image starts, or [] when it starts none."""
    command = [*ctx.target.config.entrypoint, *ctx.target.config.cmd]
    at = next((i for i, w in enumerate(command) if posixpath.basename(w) == "java"), None)
    if at is None:
        return []
    options = []
    it = iter(command[at + 1:])
    for word in it:
        if not word.startswith("-"):
            break  # the main class or source file
        options.append(word)
        if word in ("-cp", "-classpath", "--class-path", "-jar"):
            options.append(next(it, ""))
            if word == "-jar":
                break
    return options


def java_runtimes(ctx: ScanContext) -> JavaRuntimes:
    fs = ctx.target.filesystem
    jvms = objects_defining(ctx, LIBJVM, "JNI_CreateJavaVM")
    found = JavaRuntimes(malformed=dict(jvms.malformed))
    if not jvms.found:
        return found
    env = ctx.target.config.env
    words = {name: shlex.split(env[name]) for name in OPTION_VARIABLES if env.get(name)}
    if command := java_command(ctx):
        words["command"] = command
    found.options = options = JavaOptions.parse(words, env.get("CLASSPATH"))
    for jvm in jvms.found:
        home = jvm.path.rsplit("/lib/", 1)[0]
        try:
            found.runtimes.append(_runtime(fs, home, jvm.path, options))
        except (OSError, EvidenceError, ValueError) as error:
            found.malformed[jvm.path] = f"cannot read its security configuration: {error}"
    found.class_path_jars = [p for p in options.class_path if p.endswith(".jar")]
    for jar in sorted(set(found.class_path_jars) | set(_library_jars(fs))):
        kinds = _bouncycastle(fs, jar, found.malformed)
        if kinds:
            found.jars[jar] = kinds
    if ctx.target.can_run:
        for runtime in found.runtimes:
            runtime.run = _confirm(ctx, runtime, options)
    return found


def _read_properties(fs: RootFilesystem, path: str) -> dict[str, str]:
    import javaproperties  # only where a JVM is found: fipscheck.status() runs without it

    data = fs.read_bytes(path, MAX_CONFIG + 1)
    if len(data) > MAX_CONFIG:
        raise EvidenceError(f"{path} is larger than {MAX_CONFIG} bytes")
    return javaproperties.loads(data.decode("latin-1"))


def _runtime(fs: RootFilesystem, home: str, libjvm: str, options: JavaOptions) -> JavaRuntime:
    master = next((f"{home}/{d}/security/java.security" for d in ("conf", "lib")
                   if fs.is_file(f"{home}/{d}/security/java.security")), None)
    if master is None:
        raise EvidenceError(f"no java.security under {home}")
    files = [master]
    properties = _read_properties(fs, master)
    extra = options.properties.get("java.security.properties")
    if extra and properties.get("security.overridePropertiesFile", "").strip().lower() == "true":
        replace = extra.startswith("=")
        path = extra.lstrip("=").removeprefix("file:")
        if not fs.is_file(path):  # the JDK goes on with the master file alone
            files.append(f"{path} (missing)")
        else:
            files.append(path)
            properties = {**({} if replace else properties), **_read_properties(fs, path)}
    providers = []
    for n in range(1, 1000):
        entry = properties.get(f"security.provider.{n}")
        if entry is None:
            break
        name, _, argument = entry.strip().partition(" ")
        providers.append((name, argument.strip() or None))
    configs = {arg: _pkcs11_config(fs, arg.replace("${java.home}", home))
               for name, arg in providers if arg and name in ("SunPKCS11", "sun.security.pkcs11.SunPKCS11")}
    kept = {k: v for k, v in properties.items() if k.startswith(("fips.", "security.useSystem"))}
    return JavaRuntime(home, libjvm, _version(fs, home), files, kept, providers, configs)


def _pkcs11_config(fs: RootFilesystem, path: str) -> dict[str, str]:
    if not fs.is_file(path):
        return {"missing": path}
    text = fs.read_bytes(path, MAX_CONFIG).decode("utf-8", "replace")
    return {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in text.splitlines()
                                                 if "=" in line and not line.lstrip().startswith("#"))}


def _version(fs: RootFilesystem, home: str) -> str | None:
    if not fs.is_file(f"{home}/release"):
        return None
    release = fs.read_bytes(f"{home}/release", 1 << 16).decode("utf-8", "replace")
    match = re.search(r'^JAVA_VERSION="([^"]*)"', release, re.M)
    return match.group(1) if match else None


def _library_jars(fs: RootFilesystem) -> list[str]:
    return [e.path for d in LIBRARY_DIRS if fs.exists(d) for e in fs.walk(d)
            if e.is_file and e.name.endswith(".jar")]


def _bouncycastle(fs: RootFilesystem, jar: str, malformed: dict[str, str]) -> list[str]:
    """Which BouncyCastle providers a jar holds (nested bcprov jars of a fat jar included)."""
    if not fs.is_file(jar):
        return []
    try:
        with fs.open(jar) as f, zipfile.ZipFile(f) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, EvidenceError) as error:
        malformed[jar] = str(error)
        return []
    if len(names) > MAX_JAR_ENTRIES:
        malformed[jar] = f"more than {MAX_JAR_ENTRIES} entries"
        return []
    kinds = []
    if BC_PROVIDER in names:
        kinds.append("bcprov (BouncyCastleProvider, not FIPS)")
    if BC_FIPS_PROVIDER in names:
        kinds.append("bc-fips (BouncyCastleFipsProvider)")
    kinds += [f"nested {n} (not FIPS)" for n in names if NESTED_BCPROV.search(n)]
    return kinds


def _confirm(ctx: ScanContext, runtime: JavaRuntime, options: JavaOptions) -> dict[str, Any]:
    """The providers the runtime's own java lists, with the image's environment (its
    JAVA_TOOL_OPTIONS apply by themselves) and the -D options of the image's java command."""
    java = f"{runtime.home}/bin/java"
    if not ctx.target.filesystem.is_file(java):
        return {"skipped": f"no {java}"}
    defines = [w for w in options.sources.get("command", []) if w.startswith("-D")]
    argv = [java, *defines, "-XshowSettings:security:providers", "-version"]
    result = ctx.target.exec(argv)
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    seen: dict[str, Any] = {"argv": argv, "exit_code": result.exit_code,
                            "providers": PROVIDER_LINE.findall(output)}
    if result.exit_code != 0 or not seen["providers"]:
        seen["output"] = output[-500:]
    return seen
