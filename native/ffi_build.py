"""cffi (API mode) build of fipscheck._native: the checker's C source compiled into an extension
without its main(), exposing the in-process report. setup.py names this in ``cffi_modules``.

cffi builds it on Python's limited API (one ``abi3`` extension for every CPython 3), and it is
pinned to old glibc symbol versions like the standalone (FSC_PIN_GLIBC in the source), so the
wheel runs on glibc 2.17 and newer (manylinux2014): libdl.so.2 stays a dependency, as glibc
before 2.34 exports the dl* functions from there."""

import os

from cffi import FFI

DECLARATIONS = """
char *fsc_report_json(int argc, char **argv);
void fsc_free(char *p);
"""

# The hardening of native/Makefile that applies to a shared object (it is PIC already).
HARDENING_COMPILE = ["-fstack-protector-strong", "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=2"]
HARDENING_LINK = ["-Wl,-z,relro", "-Wl,-z,now"]
# native/Makefile's warnings; errors only where the project builds (scripts/testbed sets WERROR).
WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wformat=2", *os.environ.get("WERROR", "").split()]
PORTABLE_LINK = ["-Wl,--no-as-needed", "-l:libdl.so.2", "-Wl,--as-needed"]

ffibuilder = FFI()
ffibuilder.cdef(DECLARATIONS)
ffibuilder.set_source("fipscheck._native", DECLARATIONS, sources=["native/fips-startup-check.c"],
                      define_macros=[("FSC_NO_MAIN", "1"), ("FSC_PIN_GLIBC", "1")],
                      extra_compile_args=[*HARDENING_COMPILE, *WARNINGS],
                      extra_link_args=[*HARDENING_LINK, *PORTABLE_LINK])

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
