"""What the tools' sandbox (bubblewrap, archive/runner.py) costs per child started.
Run: `.venv/bin/python bench/sandbox.py [--runs 100]`.

Each child is run through `runner.run` as the worker runs its tools (minimal environment,
limits, no network), once with `WEBINAR_ARCHIVE_TOOL_ISOLATION=bwrap` and once with `none`,
the two interleaved so that the machine's load falls on both alike; it prints the median
and 95th percentile of each and the median of the per-pair differences.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from archive import runner

CHILDREN = {
    "true": (["true"], runner.View()),
    "ffprobe -version": (["ffprobe", "-version"], runner.View()),
    "python -c pass": ([sys.executable, "-c", "pass"], runner.python_view()),
}


def _once(args: list[str], isolation: runner.Isolation, view: runner.View) -> float:
    started = time.perf_counter()
    runner.run(args, runner.Limits(30, 4096, network=False, isolation=isolation), view=view)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=100)
    runs = p.parse_args().runs
    _once(["true"], runner.Isolation.BWRAP, runner.View())  # the runner's one-time check of bwrap
    for label, (args, view) in CHILDREN.items():
        bare, boxed = [], []
        for _ in range(runs):
            bare.append(_once(args, runner.Isolation.NONE, view))
            boxed.append(_once(args, runner.Isolation.BWRAP, view))
        extra = statistics.median(b - a for a, b in zip(bare, boxed))
        for name, ms in (("none", bare), ("bwrap", boxed)):
            p95 = statistics.quantiles(ms, n=20)[18]
            print(f"{label:17} {name:5}  median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms")
        print(f"{label:17} bwrap adds {extra:.1f} ms per call (median of {runs} pairs)")


if __name__ == "__main__":
    main()
