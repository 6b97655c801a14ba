"""Start-up time of the command line, run outside the test suite:

    python benchmarks/startup.py [--runs N]

Runs each command N times (default 30) as a fresh process, after two warm-up
runs, and prints the median and the fastest wall time, and the median minus
that of `python -c pass` (the interpreter's own start-up). `swamp` is the
console script next to this Python, when installed.

Like with like: typer's and yaml's bytecode was compiled when pip installed
them, and a `pip install` of swamp compiles swamp's too. An editable install
does not, and with PYTHONDONTWRITEBYTECODE set (as in some CI images) swamp's
sources would be compiled again at every start. So this script first compiles
swamp's bytecode (`compileall`, into the package's own __pycache__, which git
ignores), and says so.

It ends with `swamp queue list` on this repository's example (its models/,
workflows/ and queue/) against `python -c "import typer, yaml"`, the floor of
any typer command that reads YAML, the two run by turns; issue 12 aims at
1.5x or less.
"""

from __future__ import annotations

import argparse
import compileall
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def measure(argv: list[str], runs: int) -> list[float]:
    return [wall for wall, _ in measure_cpu(argv, runs)]


def measure_cpu(argv: list[str], runs: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each run: on a shared machine the CPU time
    (user + system) of the process moves far less than the wall time."""
    for _ in range(2):
        subprocess.run(argv, capture_output=True, check=True)
    return [_run(argv) for _ in range(runs)]


def interleaved(
    first: list[str], second: list[str], runs: int
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """measure_cpu of two commands run by turns (ABBA), so that a shared
    machine's drift weighs on both alike: a ratio of two series measured one
    after the other moved by a fifth between runs of this script."""
    for argv in (first, second, first, second):
        subprocess.run(argv, capture_output=True, check=True)
    a: list[tuple[float, float]] = []
    b: list[tuple[float, float]] = []
    for i in range(runs):
        turns = ((first, a), (second, b)) if i % 2 == 0 else ((second, b), (first, a))
        for argv, times in turns:
            times.append(_run(argv))
    return a, b


def _run(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


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
    example = str(Path(__file__).resolve().parent.parent)
    package = Path(__file__).resolve().parent.parent / "swamp"
    compiled = compileall.compile_dir(package, quiet=1)
    print(f"swamp's bytecode compiled first, as pip install does: {'ok' if compiled else 'FAILED'}")
    floor, listed = interleaved(
        [py, "-c", "import typer, yaml"],
        [py, "-m", "swamp", "--repo", example, "queue", "list"],
        runs,
    )
    for i, what in enumerate(("wall", "CPU")):
        a = statistics.median(t[i] for t in listed)
        b = statistics.median(t[i] for t in floor)
        print(
            f"queue list on the example {a * 1000:.1f} ms {what}, "
            f"python -c 'import typer, yaml' {b * 1000:.1f} ms: {a / b:.2f}x (aim <= 1.5)"
        )


if __name__ == "__main__":
    main()
