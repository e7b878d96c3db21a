"""The real NCONF reader: NCONF_load of this machine's OpenSSL libcrypto (through ctypes), to
compare fipscheck's reader with. It only parses the file: no provider is loaded, no OpenSSL
setting of the process changes."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from dataclasses import dataclass


@functools.cache
def _libcrypto() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
    lib.NCONF_new.restype = ctypes.c_void_p
    lib.NCONF_new.argtypes = [ctypes.c_void_p]
    lib.NCONF_free.argtypes = [ctypes.c_void_p]
    lib.NCONF_free.restype = None
    lib.NCONF_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_long)]
    lib.NCONF_get_string.restype = ctypes.c_char_p
    lib.NCONF_get_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.ERR_get_error.restype = ctypes.c_ulong
    lib.ERR_error_string_n.argtypes = [ctypes.c_ulong, ctypes.c_char_p, ctypes.c_size_t]
    lib.ERR_error_string_n.restype = None
    lib.ERR_clear_error.restype = None
    lib.OpenSSL_version.restype = ctypes.c_char_p
    lib.OpenSSL_version.argtypes = [ctypes.c_int]
    return lib


def version() -> str:
    return _libcrypto().OpenSSL_version(0).decode()


@dataclass
class Loaded:
    """What NCONF_load made of a file: refused (with OpenSSL's reason) or the values asked."""

    refused: str | None
    values: dict[tuple[str, str], bytes | None]


def load(path: str, names: list[tuple[str, str]]) -> Loaded:
    """NCONF_load(path), then NCONF_get_string for each (section, name): as OpenSSL looks a
    name up, the section first, then (for section ENV) the environment, then "default"."""
    lib = _libcrypto()
    lib.ERR_clear_error()
    conf = lib.NCONF_new(None)
    try:
        line = ctypes.c_long(0)
        if not lib.NCONF_load(conf, path.encode(), ctypes.byref(line)):
            reason = ctypes.create_string_buffer(256)
            lib.ERR_error_string_n(lib.ERR_get_error(), reason, len(reason))
            return Loaded(reason.value.decode(errors="replace"), {})
        return Loaded(None, {(section, name): lib.NCONF_get_string(conf, section.encode(), name.encode())
                             for section, name in names})
    finally:
        lib.NCONF_free(conf)
        lib.ERR_clear_error()
