"""How much fipscheck costs an application that checks itself at start-up: the time of
`import fipscheck` (in fresh interpreters, against a bare interpreter's start-up) and of a
`fipscheck.status()` call (first and repeated, in one process). Prints figures, asserts nothing.

    .venv/bin/python bench/status.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def fresh_interpreter(code: str, runs: int) -> float:
    """Median wall time of a fresh interpreter running ``code``, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    bare = fresh_interpreter("pass", runs)
    with_import = fresh_interpreter("import fipscheck", runs)
    import_cost = with_import - bare

    import fipscheck

    first_started = time.perf_counter()
    fipscheck.status()
    first = time.perf_counter() - first_started
    repeated = []
    for _ in range(runs):
        call_started = time.perf_counter()
        fipscheck.status()
        repeated.append(time.perf_counter() - call_started)
    call = statistics.median(repeated)

    print(f"interpreter start-up (median of {runs}):   {bare * 1000:8.1f} ms")
    print(f"import fipscheck, added:                  {import_cost * 1000:8.1f} ms"
          f"   ({import_cost / bare:.2f}x start-up)")
    print(f"fipscheck.status(), first call:           {first * 1000:8.1f} ms"
          f"   ({first / bare:.2f}x start-up)")
    print(f"fipscheck.status(), later calls (median): {call * 1000:8.1f} ms"
          f"   ({call / bare:.2f}x start-up)")


if __name__ == "__main__":
    main()
