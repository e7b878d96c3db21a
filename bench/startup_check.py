"""Benchmark (not a test): the native preflight against the seed's entrypoint check.

Inside one container of the openssl-fips reference image, times ``fips-startup-check -- true``
(loads the configuration and the FIPS provider, watches its self-tests, lists providers, runs
known-answer and refusal tests, then execs ``true``) against one ``openssl list -providers``
(which only loads the provider and lists it), each run REPEAT times, and prints the medians and
their ratio. Run: .venv/bin/python bench/startup_check.py [--repeat N] [--image NAME]
"""

from __future__ import annotations

import argparse
import statistics

from fipscheck.native import executable_path
from fipscheck.probes.native import TARGET_PATH
from fipscheck.targets import ImageTarget

# Times each command inside the container with the shell's clock, so docker exec's own
# overhead is not part of the figure; prints one duration in nanoseconds per run.
TIMER = ('n=$1; shift; for i in $(seq "$n"); do '
         's=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $((e - s)); done')
BATCH = 5


def timings(target: ImageTarget, repeat: int, command: list[str]) -> list[float]:
    result = target.exec(["sh", "-c", TIMER, "bench", str(repeat), *command])
    if result.exit_code != 0:
        raise SystemExit(f"{command} failed: {result.stderr.decode()}")
    return [int(line) / 1e6 for line in result.text.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--image", default="fipscheck/openssl-fips:latest")
    args = parser.parse_args()
    with ImageTarget(args.image) as target:
        target.put_file(TARGET_PATH, executable_path().read_bytes())
        checker: list[float] = []
        openssl: list[float] = []
        for _ in range(0, args.repeat, BATCH):  # alternate batches, so load drift hits both
            checker += timings(target, BATCH, [TARGET_PATH, "--", "true"])
            openssl += timings(target, BATCH, ["openssl", "list", "-providers"])
    for name, runs in (("fips-startup-check -- true", checker), ("openssl list -providers", openssl)):
        print(f"{name:28} median {statistics.median(runs):7.2f} ms  min {min(runs):7.2f} ms  "
              f"({len(runs)} runs)")
    print(f"ratio (checker / openssl list): {statistics.median(checker) / statistics.median(openssl):.2f}")


if __name__ == "__main__":
    main()
