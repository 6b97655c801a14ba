"""Ctrl-C, SIGTERM and kill -9 of a real swamp process: no step process
outlives swamp, the journal says what was in flight, and a step whose
outcome is unknown is never run again silently.

Subprocesses on purpose: signals and process death are what is tested."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from repo_helpers import (
    SWAMP_YAML,
    events,
    make_repo,
    marks,
    run_ids,
    start_swamp,
    swamp,
    wait_for,
)

# Each step leaves its own pid and its grandchild's, and lingers; `stubborn`
# ignores SIGTERM, `escape` leaves its process group (setsid).
MODELS = {
    "proc": """\
name: proc
type: command/shell
inputs:
  properties:
    name: {type: string}
methods:
  linger:
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        sleep 300 &
        echo $! > ${{ inputs.name }}.child
        echo $$ > ${{ inputs.name }}.pid
        wait
  stubborn:
    arguments:
      run: |
        trap '' TERM
        echo ${{ inputs.name }} >> marks.log
        sleep 300 &
        echo $! > ${{ inputs.name }}.child
        echo $$ > ${{ inputs.name }}.pid
        wait
  escape:
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        setsid sleep 300 &
        echo $! > ${{ inputs.name }}.child
        echo $$ > ${{ inputs.name }}.pid
        wait
  quick:
    arguments:
      run: echo ${{ inputs.name }} >> marks.log
"""
}

WORKFLOW = """\
name: long
jobs:
  main:
    steps:
      - {name: first, model: proc, method: METHOD, inputs: {name: first}}
      - {name: second, model: proc, method: quick, inputs: {name: second}}
  side:
    steps:
      - {name: other, model: proc, method: METHOD, inputs: {name: other}}
"""


def _repo(tmp_path: Path, method: str = "linger", swamp_yaml: str = SWAMP_YAML) -> Path:
    return make_repo(
        tmp_path / "r", {"long": WORKFLOW.replace("METHOD", method)}, MODELS, swamp_yaml
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits to be reaped by init.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def _pids(repo: Path, *names: str) -> list[int]:
    return [int((repo / f"{n}.{kind}").read_text()) for n in names for kind in ("pid", "child")]


def _start_and_wait(repo: Path, *args: str) -> subprocess.Popen[str]:
    proc = start_swamp(repo, *args)

    def written(name: str) -> bool:
        path = repo / name
        return path.exists() and path.read_text().endswith("\n")

    wait_for(
        lambda: (
            all(written(f"{n}.{k}") for n in ("first", "other") for k in ("pid", "child"))
            or proc.poll() is not None
        ),
        what="both steps to start their processes",
    )
    assert proc.poll() is None, proc.communicate()
    return proc


def _journal(repo: Path) -> list[dict[str, object]]:
    (run_id,) = run_ids(repo)
    return events(repo, run_id)


def test_ctrl_c_stops_steps_records_them_and_exits_130(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    proc = _start_and_wait(repo, "workflow", "run", "long")
    pids = _pids(repo, "first", "other")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "SIGINT: no new steps start" in err
    assert "SIGKILL after 5s" in err
    assert "in flight, outcome unknown: main/first, side/other" in err
    assert [p for p in pids if alive(p)] == []
    assert "second" not in marks(repo)  # nothing new started
    journal = _journal(repo)
    interrupted = {
        e["step"] for e in journal if e["type"] == "step-finished" and e["state"] == "interrupted"
    }
    assert interrupted == {"first", "other"}
    # `side` has one step only, and it was interrupted: the job is stopped by
    # the signal like `main`, not failed.
    jobs = {
        e["job"]: (e["state"], e.get("reason"))
        for e in journal
        if e["type"] == "job-state" and e["state"] != "running"
    }
    assert jobs == {
        "main": ("stopped", "interrupted by SIGINT"),
        "side": ("stopped", "interrupted by SIGINT"),
    }
    final = journal[-1]
    assert (final["type"], final["state"]) == ("run-state", "interrupted")
    assert final["inFlight"] == ["main/first", "side/other"]
    listed = json.loads(swamp(repo, "run", "list", "--json").stdout)
    assert [r["state"] for r in listed] == ["interrupted"]


def test_sigterm_then_a_second_signal_skips_the_grace(tmp_path: Path) -> None:
    # The steps ignore SIGTERM and the grace is ten minutes: only the second
    # signal can end them in the time this test waits.
    repo = _repo(tmp_path, "stubborn", SWAMP_YAML + "defaults:\n  stopGrace: 10m\n")
    proc = _start_and_wait(repo, "workflow", "run", "long")
    pids = _pids(repo, "first", "other")
    proc.send_signal(signal.SIGTERM)
    assert proc.stderr is not None
    line = ""
    while "SIGTERM" not in line:  # progress lines come first
        line = proc.stderr.readline()
        assert line, "swamp ended before it told what it does"
    assert "SIGTERM: no new steps start" in line and "after 600s" in line
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "SIGTERM again: killing the steps still running now" in err
    assert [p for p in pids if alive(p)] == []
    assert "second" not in marks(repo)


def test_no_step_process_outlives_kill_9_of_swamp(tmp_path: Path) -> None:
    # `escape` leaves its process group; the watchdog finds it by its token.
    repo = _repo(tmp_path, "escape")
    proc = _start_and_wait(repo, "workflow", "run", "long")
    pids = _pids(repo, "first", "other")
    os.kill(proc.pid, signal.SIGKILL)  # swamp alone, not its steps' groups
    proc.communicate()
    wait_for(lambda: not any(alive(p) for p in pids), what="every step process to die")


def test_a_step_in_flight_at_kill_9_is_not_rerun_silently(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    proc = _start_and_wait(repo, "workflow", "run", "long")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    (run_id,) = run_ids(repo)
    refused = swamp(repo, "run", "resume", run_id, check=1)
    assert (
        f"run {run_id}: the outcome of main/first, side/other is unknown (it was in flight "
        "when swamp died or was interrupted, and may have acted)"
    ) in refused.stderr
    assert sorted(marks(repo)) == ["first", "other"]  # nothing ran again
    # Declared safe to repeat: a resume runs them again without asking.
    models = repo / "models" / "proc.yaml"
    models.write_text(
        models.read_text()
        .replace("  linger:\n", "  linger:\n    idempotent: true\n")
        .replace("sleep 300 &", "true &")
    )
    swamp(repo, "run", "resume", run_id)
    assert sorted(marks(repo)) == ["first", "first", "other", "other", "second"]


def test_an_interrupted_step_resumes_only_with_rerun_unknown(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    proc = _start_and_wait(repo, "workflow", "run", "long")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    (run_id,) = run_ids(repo)
    swamp(repo, "run", "resume", run_id, check=1)
    models = repo / "models" / "proc.yaml"
    models.write_text(models.read_text().replace("sleep 300 &", "true &"))
    swamp(repo, "run", "resume", run_id, "--rerun-unknown")
    assert sorted(marks(repo)) == ["first", "first", "other", "other", "second"]
    audit = [e for e in _journal(repo) if e["type"] == "unknown-rerun"]
    assert [e["steps"] for e in audit] == [["main/first", "side/other"]]


def test_ctrl_c_in_queue_execute_records_the_item_and_starts_no_other(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "workflow", "queue", "long")
    swamp(repo, "method", "queue", "proc", "quick", "--input", "name=later")
    proc = _start_and_wait(repo, "queue", "execute", "--all")
    pids = _pids(repo, "first", "other")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "in flight, outcome unknown: main/first, side/other" in err
    assert [p for p in pids if alive(p)] == []
    assert "later" not in marks(repo)  # the next item never started
    listed = {r["target"]: r for r in json.loads(swamp(repo, "queue", "list", "--json").stdout)}
    assert listed["long"]["state"] == "interrupted"  # recorded: it needs a person now
    assert listed["proc.quick"]["state"] == "queued"


WAITING = """\
name: waiting
jobs:
  main:
    steps:
      - {name: first, model: gate, method: wait, inputs: {name: first}}
      - {name: second, model: sh, method: mark, inputs: {name: second}}
"""

GATE = """\
name: gate
type: command/shell
inputs:
  properties:
    name: {type: string}
methods:
  wait:
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        echo $$ > ${{ inputs.name }}.pid
        while [ ! -e GO ]; do sleep 0.05; done
"""


def test_sigterm_in_queue_execute_leaves_the_item_interrupted_and_resumable(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "r", {"waiting": WAITING}, {"gate": GATE})
    swamp(repo, "workflow", "queue", "waiting")
    proc = start_swamp(repo, "queue", "execute", "--all")
    wait_for(lambda: (repo / "first.pid").exists() or proc.poll() is not None, what="first")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)

    (row,) = json.loads(swamp(repo, "queue", "list", "--json").stdout)
    assert row["state"] == "interrupted", row
    assert row["detail"].endswith(f"resume with: swamp queue execute --item {row['id']}")
    (item_file,) = (repo / "queue").glob("*.yaml")
    assert "state: interrupted" in item_file.read_text()
    # Never again by accident.
    skipped = swamp(repo, "queue", "execute", "--all")
    assert f"{row['id']} waiting: skipped: interrupted" in skipped.stdout
    # The documented command resumes it; the step in flight had an unknown
    # outcome, so it runs again only when the operator says so.
    (repo / "GO").touch()
    refused = swamp(repo, "queue", "execute", "--item", row["id"], check=1)
    assert "--rerun-unknown" in refused.stdout
    assert marks(repo) == ["first"]
    swamp(repo, "queue", "execute", "--item", row["id"], "--rerun-unknown")
    assert marks(repo) == ["first", "first", "second"]
    assert list((repo / "queue").glob("*.yaml")) == []
    assert len(list((repo / "done").glob("*.yaml"))) == 1


def test_where_the_watchdog_cannot_start_swamp_says_so_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A platform whose posix_spawn cannot setsid gets no kill -9 protection:
    swamp warns once per process instead of trying again at every step."""
    from swamp.reaper import TOKEN_VARIABLE, Reaper

    calls = []

    def refuse(*args: object, **kwargs: object) -> int:
        calls.append(args)
        raise NotImplementedError("posix_spawn cannot setsid here")

    monkeypatch.setattr(os, "posix_spawn", refuse)
    reaper = Reaper()
    assert reaper.environment() == {TOKEN_VARIABLE: reaper.token}
    reaper.started(123456)
    reaper.ended(123456)
    reaper.environment()
    err = capsys.readouterr().err
    assert err.count("no watchdog for step processes") == 1
    assert "posix_spawn cannot setsid here" in err
    assert len(calls) == 1
