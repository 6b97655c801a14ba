"""Queue benchmarks, run outside the test suite:

    python benchmarks/queue.py [N_LIST] [N_EXECUTE]

1. `swamp queue list --json` over N_LIST (default 10,000) queued items, against
   a bare script that reads and parses the same files, in the same run; both
   are timed as whole processes (median of 5, the commands run by turns).
   Start-up is measured too: `python -c pass` for the bare script, and
   `swamp queue list --json` over an empty queue of the same repository for
   swamp, so the ratio can be read both ways (whole processes, and the work
   beyond each one's start-up).
2. `swamp queue execute --all` over N_EXECUTE (default 1,000) items of the
   side-effect-free type, per item; it checks that every item ended in done/.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swamp.items import identity

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
    # Stage one item through the CLI, then copy its shape with the identity
    # swamp would give each copy: staging 10,000 items one command at a time
    # would measure start-up, not the queue.
    swamp(root, "method", "queue", "noop", "echo", "--input", "n:json=0")
    first = next((root / "queue").glob("*.yaml"))
    template = first.read_text()
    first_id = template.split("id: ", 1)[1].split("\n", 1)[0]
    for i in range(1, n):
        item_id = identity("method", "noop.echo", {"n": i})
        # Quoted: an id of digits only would otherwise be read as a number.
        text = template.replace(f"id: {first_id}", f"id: '{item_id}'").replace("n: 0", f"n: {i}")
        (root / "queue" / f"noop-echo-{i}-{item_id}.yaml").write_text(text)


def swamp(root: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "swamp", "--repo", str(root), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def timed(*cmds: list[str], repeat: int = 5) -> list[float]:
    """The median seconds of each command, after one warm-up run each; the
    commands run by turns (ABBA), so that a shared machine's drift weighs on
    all of them alike."""
    times: list[list[float]] = [[] for _ in cmds]
    for i in range(repeat + 1):
        order = list(enumerate(cmds)) if i % 2 == 0 else list(enumerate(cmds))[::-1]
        for k, cmd in order:
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            if i:  # the first round warms up
                times[k].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> int:
    n_list = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_exec = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "list"
        setup(root, n_list)
        empty = Path(tmp) / "empty"
        shutil.copytree(root, empty, ignore=shutil.ignore_patterns("*.yaml"))
        shutil.copy(root / "swamp.yaml", empty / "swamp.yaml")
        shutil.copytree(root / "models", empty / "models", dirs_exist_ok=True)
        py = sys.executable
        python_startup, swamp_startup, bare, listed = timed(
            [py, "-c", "pass"],
            [py, "-m", "swamp", "--repo", str(empty), "queue", "list", "--json"],
            [py, "-c", BARE, str(root / "queue")],
            [py, "-m", "swamp", "--repo", str(root), "queue", "list", "--json"],
        )
        print(
            f"start-up: python -c pass {python_startup:.3f}s, "
            f"swamp (empty queue) {swamp_startup:.3f}s"
        )
        print(
            f"queue list --json, {n_list} items: swamp {listed:.3f}s, "
            f"bare read+parse {bare:.3f}s; "
            f"ratio {listed / bare:.2f} as whole processes, "
            f"{(listed - swamp_startup) / (bare - python_startup):.2f} beyond start-up (aim <= 1.5)"
        )
        root = Path(tmp) / "exec"
        setup(root, n_exec)
        t = swamp(root, "queue", "execute", "--all")
        done = len(list((root / "done").glob("*.yaml")))
        left = len(list((root / "queue").glob("*.yaml")))
        assert (done, left) == (n_exec, 0), f"{done} done, {left} left in the queue"
        print(f"queue execute --all, {n_exec} items: {t:.2f}s, {t / n_exec * 1000:.2f} ms/item")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
