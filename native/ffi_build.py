"""cffi (API mode) build of fipscheck._native: the checker's C source compiled into an extension
without its main(), exposing the in-process report. setup.py names this in ``cffi_modules``."""

from cffi import FFI

DECLARATIONS = """
char *fsc_report_json(int argc, char **argv);
void fsc_free(char *p);
"""

# The hardening of native/Makefile that applies to a shared object (it is PIC already).
HARDENING_COMPILE = ["-fstack-protector-strong", "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=2"]
HARDENING_LINK = ["-Wl,-z,relro", "-Wl,-z,now"]

ffibuilder = FFI()
ffibuilder.cdef(DECLARATIONS)
ffibuilder.set_source("fipscheck._native", DECLARATIONS, sources=["native/fips-startup-check.c"],
                      define_macros=[("FSC_NO_MAIN", "1")], libraries=["dl"],
                      extra_compile_args=HARDENING_COMPILE, extra_link_args=HARDENING_LINK)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
