"""Queue benchmarks, run outside the test suite:

    python benchmarks/queue.py [N_LIST] [N_EXECUTE]

1. `swamp queue list --json` over N_LIST (default 10,000) queued items, against
   a bare script that reads and parses the same files, in the same run; both
   are timed as whole processes, and `python -c pass` is reported for start-up.
2. `swamp queue execute --all` over N_EXECUTE (default 1,000) items of the
   side-effect-free type, per item.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
import sys, yaml
from pathlib import Path
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
items = [yaml.load(p.read_text(), Loader=loader) for p in sorted(Path(sys.argv[1]).glob("*.yaml"))]
print(len(items))
"""


def setup(root: Path, n: int) -> None:
    (root / "models").mkdir(parents=True)
    (root / "queue").mkdir()
    (root / "swamp.yaml").write_text("version: 1\n")
    (root / "models" / "noop.yaml").write_text(
        "name: noop\ntype: swamp/echo\ninputs:\n  properties: {n: {type: integer}}\n"
        "methods:\n  echo:\n    arguments:\n      values: {n: '${{ inputs.n }}'}\n"
    )
    # Stage one item through the CLI, then copy its shape: staging 10,000 items
    # one command at a time would measure start-up, not the queue.
    run(root, "method", "queue", "noop", "echo", "--input", "n:json=0")
    template = next((root / "queue").glob("*.yaml")).read_text()
    first_id = template.split("id: ", 1)[1].split("\n", 1)[0]
    for i in range(1, n):
        item_id = f"{i:012x}"
        text = template.replace(first_id, item_id).replace("n: 0", f"n: {i}")
        (root / "queue" / f"noop-echo-{i}-{item_id}.yaml").write_text(text)


def run(root: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "swamp", "--repo", str(root), *args],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def timed(cmd: list[str], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    n_list = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_exec = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "list"
        setup(root, n_list)
        startup = timed([sys.executable, "-c", "pass"])
        bare = timed([sys.executable, "-c", BARE, str(root / "queue")])
        swamp_list = timed(
            [sys.executable, "-m", "swamp", "--repo", str(root), "queue", "list", "--json"]
        )
        print(f"python -c pass: {startup:.3f}s")
        print(
            f"queue list --json, {n_list} items: swamp {swamp_list:.3f}s, bare parse "
            f"{bare:.3f}s, ratio {swamp_list / bare:.2f} (aim <= 1.5 plus start-up)"
        )
        root = Path(tmp) / "exec"
        setup(root, n_exec)
        t = run(root, "queue", "execute", "--all")
        print(f"queue execute --all, {n_exec} items: {t:.2f}s, {t / n_exec * 1000:.1f} ms/item")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
