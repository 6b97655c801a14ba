"""Engine benchmarks, run outside the test suite:

    python benchmarks/engine.py [ROUNDS]

(a) 500 sequential `true` steps (argv form) against a bare loop, in the same
    process, that runs `true` and appends and fsyncs one journal-sized record
    per step: the floor of a durable engine. Also against the same loop
    capturing each command's output, which swamp must read and the floor
    does not. Rounds alternate the four runs and the median ratios are
    reported (a shared machine is noisy). And against the leanest capturing
    loop Python allows (posix_spawn, two pipes and a pidfd under poll, one
    append + fsync; Linux): what any engine that captures output starts
    from, before it records or decides anything. swamp fsyncs
    once per step too: a step's finish shares the fsync of the next step's
    start. Two figures for swamp, since command/shell starts a step through
    posix_spawn only where swamp's working directory is the step's (Python's
    posix_spawn cannot change directory): "in the repository" (the working
    directory is the repository's root, as for a user who runs `swamp` there)
    and "elsewhere" (as with `swamp --repo PATH`: Popen starts each step);
(b) no-op (swamp/echo) steps at 100, 1,000 and 10,000 per run: the time per
    step must stay flat, since nothing done per step grows with the run;
(c) 8 independent jobs sleeping 1 s with concurrency 8: about 1 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/queue.py`, this folder comes first on sys.path and
# its queue.py would shadow the standard library's `queue` (which threads use).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import os
import select
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

from swamp.engine import service
from swamp.engine.runs import NewRun
from swamp.validate import load_repository


def make_repo(root: Path, workflow: str) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "workflows").mkdir()
    (root / "swamp.yaml").write_text("version: 1\n")
    (root / "models" / "m.yaml").write_text(
        "name: m\ntype: command/shell\nmethods:\n  'true':\n    arguments:\n      argv: ['true']\n"
        "  sleep:\n    arguments:\n      argv: [sleep, '1']\n"
    )
    (root / "models" / "noop.yaml").write_text(
        "name: noop\ntype: swamp/echo\nmethods:\n  echo:\n    arguments:\n"
        "      values: {ok: true}\n"
    )
    (root / "workflows" / "w.yaml").write_text(workflow)
    return root


def sequential(n: int, model: str, method: str) -> str:
    steps = "\n".join(
        f"      - {{name: s{i}, model: {model}, method: '{method}'}}" for i in range(n)
    )
    return f"name: w\njobs:\n  j:\n    steps:\n{steps}\n"


def time_run(
    workflow: str,
    concurrency: int = 4,
    *,
    in_repository: bool = True,
    cpu: list[float] | None = None,
) -> float:
    """Seconds for one run of workflow `w` (loading the repository excluded),
    from the repository's root or from another folder; its CPU seconds (this
    process, every thread; not the steps' own) appended to `cpu`."""
    with tempfile.TemporaryDirectory() as tmp:
        root = make_repo(Path(tmp).resolve() / "repo", workflow)
        repo = load_repository(root)
        repo.require_valid()
        before = Path.cwd()
        os.chdir(root if in_repository else tmp)
        try:
            start, used = time.perf_counter(), time.process_time()
            new = NewRun("workflow", "w", {}, "bench", concurrency=concurrency)
            result = service.start(repo, new, quiet=True)
            elapsed = time.perf_counter() - start
            if cpu is not None:
                cpu.append(time.process_time() - used)
        finally:
            os.chdir(before)
        assert result.final == "succeeded", result.state.reason
        steps = [s for j in result.state.jobs.values() for s in j.steps.values()]
        assert all(s.state == "succeeded" for s in steps), "a step did not succeed"
        return elapsed


def bare_true(n: int, *, capture: bool = False, cpu: list[float] | None = None) -> float:
    """`true` n times, each followed by one durable record (append + fsync);
    with `capture`, reading the command's stdout and stderr too, as swamp
    must (a step's outputs are what it prints). CPU seconds as for time_run."""
    return _durable_loop(
        n, lambda: subprocess.run(["true"], check=True, capture_output=capture), cpu
    )


def lean_capture(n: int, cpu: list[float] | None = None) -> float:
    """`true` n times as a capturing engine must run it at the least: its own
    session, stdout and stderr read from pipes until both close and the
    process exits (poll on the pipes and a pidfd), then one durable record.
    No journal, state or scheduling: swamp's cost over this is its own."""
    true = shutil.which("true")
    assert true is not None

    def run() -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ]
        pid = os.posix_spawn(true, ["true"], os.environ, file_actions=actions, setsid=True)
        os.close(out_w)
        os.close(err_w)
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        for each in (out_r, err_r, pidfd):
            poller.register(each, select.POLLIN)
        waiting, chunks = {out_r, err_r, pidfd}, []
        while waiting:
            for each, _ in poller.poll():
                chunk = b"" if each == pidfd else os.read(each, 65536)
                if chunk:
                    chunks.append(chunk)
                else:
                    poller.unregister(each)
                    waiting.discard(each)
        os.waitpid(pid, 0)
        for each in (out_r, err_r, pidfd):
            os.close(each)

    return _durable_loop(n, run, cpu)


def _durable_loop(n: int, run: Callable[[], object], cpu: list[float] | None) -> float:
    """Seconds for n times `run()` then one journal-sized append + fsync;
    the CPU seconds of this process appended to `cpu`."""
    with tempfile.TemporaryDirectory() as tmp:
        fd = os.open(Path(tmp) / "j", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        line = b"x" * 300 + b"\n"
        start, used = time.perf_counter(), time.process_time()
        for _ in range(n):
            run()
            os.write(fd, line)
            os.fsync(fd)
        elapsed = time.perf_counter() - start
        if cpu is not None:
            cpu.append(time.process_time() - used)
        os.close(fd)
    return elapsed


def fsync_cost(n: int = 500) -> float:
    """Seconds per append + fsync of a journal-sized line, on the same disk."""
    with tempfile.TemporaryDirectory() as tmp:
        fd = os.open(Path(tmp) / "j", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        line = b"x" * 300 + b"\n"
        start = time.perf_counter()
        for _ in range(n):
            os.write(fd, line)
            os.fsync(fd)
        os.close(fd)
        return (time.perf_counter() - start) / n


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {rounds} rounds for (a)")
    # (a)
    bares: list[float] = []
    captured: list[float] = []
    engines: dict[str, list[float]] = {"in the repository": [], "elsewhere": []}
    ratios: dict[str, list[float]] = {where: [] for where in engines}
    to_captured: list[float] = []  # in the repository, against the capturing loop
    lean: list[float] = []
    to_lean: list[float] = []  # in the repository, against the leanest capturing loop
    has_lean = sys.platform.startswith("linux") and hasattr(os, "pidfd_open")
    # CPU seconds of this process (the steps' own excluded): where the gap is.
    cpus: dict[str, list[float]] = {
        "bare loop": [],
        "capturing loop": [],
        "leanest capturing loop": [],
        "swamp": [],
    }
    if not has_lean:
        del cpus["leanest capturing loop"]
    for _ in range(rounds):
        bare = bare_true(500, cpu=cpus["bare loop"])
        bares.append(bare)
        captured.append(bare_true(500, capture=True, cpu=cpus["capturing loop"]))
        if has_lean:
            lean.append(lean_capture(500, cpu=cpus["leanest capturing loop"]))
        for where, times in engines.items():
            here = where != "elsewhere"
            spent = cpus["swamp"] if here else None
            times.append(time_run(sequential(500, "m", "true"), in_repository=here, cpu=spent))
            ratios[where].append(times[-1] / bare)
        to_captured.append(engines["in the repository"][-1] / captured[-1])
        if has_lean:
            to_lean.append(engines["in the repository"][-1] / lean[-1])
    fsync = fsync_cost()
    bare = statistics.median(bares)
    print(
        f"(a) 500 x true: bare loop {bare:.3f}s (median); one fsync here costs "
        f"{fsync * 1000:.3f} ms"
    )
    for where, times in engines.items():
        engine, ratio = statistics.median(times), statistics.median(ratios[where])
        print(
            f"    swamp {where}: {engine:.3f}s, median ratio {ratio:.2f}, "
            f"best {min(ratios[where]):.2f} (aim <= 1.1), "
            f"{(engine - bare) / 500 * 1000:+.3f} ms/step over the loop"
        )
    # What part of the gap is reading the step's output, which the issue's
    # loop does not do and swamp cannot skip.
    print(
        f"    a bare loop that also captures stdout and stderr: "
        f"{statistics.median(captured):.3f}s; swamp in the repository against it: "
        f"median ratio {statistics.median(to_captured):.2f}"
    )
    if has_lean:
        # What is left once spawning and reading are done as cheaply as Python
        # can: swamp's own per-step work (journal, state, scheduling, checks).
        per_step = (statistics.median(engines["in the repository"]) - statistics.median(lean)) / 500
        print(
            f"    the leanest capturing loop (posix_spawn, pipes and a pidfd under poll): "
            f"{statistics.median(lean):.3f}s; swamp in the repository against it: "
            f"median ratio {statistics.median(to_lean):.2f}, {per_step * 1000:+.3f} ms/step"
        )
    print(
        "    CPU per step in this process (not the steps' own): "
        + ", ".join(f"{k} {statistics.median(v) / 500 * 1000:.3f} ms" for k, v in cpus.items())
        + " (swamp in the repository)"
    )
    # (b)
    for n in (100, 1_000, 10_000):
        t = min(time_run(sequential(n, "noop", "echo")) for _ in range(3 if n < 10_000 else 1))
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
