#!/usr/bin/env python3
"""Run fipscheck's fuzz targets (tests/test_fuzz_*.py) for longer than the test suite does.

    fuzz/run.py                       20,000 examples per target, a new random seed
    fuzz/run.py --examples 200000 -k nconf
    fuzz/run.py --seed 1234           repeat a run

The suite runs each target for a fixed number of derandomized examples; here each run draws
new ones, under a 2 GiB address-space limit (a reader that tries to allocate without bound
fails with MemoryError instead of swapping the machine), and Hypothesis keeps what it found
in an example database (FIPSCHECK_FUZZ_DB, /var/tmp/fipscheck-fuzz-db by default) so the
next run starts from it. A failure prints the minimized input: add it to the target as an
``@example`` (or a regression test) before fixing the reader.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 2 << 30


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=20_000, help="examples per target")
    parser.add_argument("--seed", help="Hypothesis seed (default: random)")
    parser.add_argument("-k", dest="select", help="only targets matching this pytest expression")
    args = parser.parse_args()
    env = {**os.environ, "FIPSCHECK_HYPOTHESIS_PROFILE": "fuzz",
           "FIPSCHECK_FUZZ_EXAMPLES": str(args.examples)}
    command = [sys.executable, "-m", "pytest", *sorted(map(str, (REPO / "tests").glob("test_fuzz_*.py"))),
               "-p", "no:cacheprovider", "-q", "--hypothesis-show-statistics"]
    if args.seed:
        command.append(f"--hypothesis-seed={args.seed}")
    if args.select:
        command += ["-k", args.select]
    return subprocess.run(command, cwd=REPO, env=env, preexec_fn=_limit_memory).returncode


if __name__ == "__main__":
    sys.exit(main())
