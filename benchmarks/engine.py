"""Engine benchmarks, run outside the test suite:

    python benchmarks/engine.py

(a) 500 sequential `true` steps (argv form) against a bare loop of 500
    subprocess.run(["true"]) in the same process;
(b) no-op (swamp/echo) steps at 100, 1,000 and 10,000 per run: the time per
    step should stay flat, since journaling does not grow with the run;
(c) 8 independent jobs sleeping 1 s with concurrency 8.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swamp.engine import service
from swamp.repo import load_repository


def make_repo(root: Path, workflow: str) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "workflows").mkdir()
    (root / "swamp.yaml").write_text("version: 1\n")
    (root / "models" / "m.yaml").write_text(
        "name: m\ntype: command/shell\nmethods:\n  true:\n    arguments:\n      argv: [true]\n"
        "  sleep:\n    arguments:\n      argv: [sleep, '1']\n"
    )
    (root / "models" / "noop.yaml").write_text(
        "name: noop\ntype: swamp/echo\nmethods:\n  echo:\n    arguments:\n"
        "      values: {ok: true}\n"
    )
    (root / "workflows" / "w.yaml").write_text(workflow)
    return root


def sequential(n: int, model: str, method: str) -> str:
    steps = "\n".join(f"      - {{name: s{i}, model: {model}, method: {method}}}" for i in range(n))
    return f"name: w\njobs:\n  j:\n    steps:\n{steps}\n"


def time_run(workflow: str, concurrency: int = 4) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_repo(Path(tmp) / "repo", workflow)
        repo = load_repository(root)
        start = time.perf_counter()
        result = service.start(
            repo, "workflow", "w", {}, by="bench", concurrency=concurrency, quiet=True
        )
        elapsed = time.perf_counter() - start
        assert result.final == "succeeded", result.state.reason
        return elapsed


def bare_true(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(["true"], check=True)
    return time.perf_counter() - start


def main() -> int:
    print(f"python {sys.version.split()[0]}")
    # (a)
    bare = bare_true(500)
    engine = time_run(sequential(500, "m", "true"))
    print(
        f"(a) 500 x true: bare loop {bare:.3f}s, swamp {engine:.3f}s, "
        f"ratio {engine / bare:.2f} (aim <= 1.3)"
    )
    # (b)
    for n in (100, 1_000, 10_000):
        t = time_run(sequential(n, "noop", "echo"))
        print(f"(b) {n:>6} no-op steps: {t:.3f}s, {t / n * 1000:.3f} ms/step")
    # (c)
    jobs = "\n".join(
        f"  j{i}:\n    steps:\n      - {{name: s, model: m, method: sleep}}" for i in range(8)
    )
    t = time_run(f"name: w\njobs:\n{jobs}\n", concurrency=8)
    print(f"(c) 8 jobs x sleep 1s, concurrency 8: {t:.3f}s (aim ~1s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
