"""Start-up time of the command line, run outside the test suite:

    python benchmarks/startup.py [--runs N]

Runs each command N times (default 30) as a fresh process, after two warm-up
runs, and prints the median and the fastest wall time, and the median minus
that of `python -c pass` (the interpreter's own start-up). `swamp` is the
console script next to this Python, when installed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def measure(argv: list[str], runs: int) -> list[float]:
    for _ in range(2):
        subprocess.run(argv, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    py = sys.executable
    script = shutil.which("swamp", path=str(Path(py).parent)) or ""
    cases = [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -m swamp --version", [py, "-m", "swamp", "--version"]),
        ("python -m swamp --help", [py, "-m", "swamp", "--help"]),
    ]
    if script:
        cases += [
            ("swamp --version", [script, "--version"]),
            ("swamp --help", [script, "--help"]),
        ]
    base = None
    print(f"{runs} runs each, {sys.version.split()[0]}")
    print(f"{'command':28} {'median':>9} {'fastest':>9} {'minus python':>13}")
    for label, argv in cases:
        times = measure(argv, runs)
        median = statistics.median(times)
        base = median if base is None else base
        extra = "" if label == "python -c pass" else f"{(median - base) * 1000:+10.1f} ms"
        print(f"{label:28} {median * 1000:6.1f} ms {min(times) * 1000:6.1f} ms {extra:>13}")


if __name__ == "__main__":
    main()
