"""fipscheck benchmarks: `bench/run` (see __main__.py)."""
