"""`swamp run stop` and the watcher, in-process: a run executes in a thread,
and another terminal's commands are called as the CLI would call them."""

from __future__ import annotations

import threading
from pathlib import Path

from repo_helpers import make_repo, marks, run_ids, show, swamp, wait_for

from swamp.engine import service
from swamp.engine.runs import NewRun
from swamp.engine.service import RunResult
from swamp.validate import load_repository

# `b` acts (a mark), then runs until it is stopped.
LONG = """\
name: long
jobs:
  work:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
      - {name: b, model: sh, method: sleep, inputs: {name: b, seconds: 60}IDEMPOTENT}
      - {name: c, model: sh, method: mark, inputs: {name: c}}
"""


def _start(repo_root: Path) -> tuple[threading.Thread, list[RunResult]]:
    """Execute `long` in a thread, as `swamp workflow run long` would."""
    repo = load_repository(repo_root)
    results: list[RunResult] = []

    def run() -> None:
        results.append(service.start(repo, NewRun("workflow", "long", {}, "test"), quiet=True))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def _stopped_in_flight(tmp_path: Path, idempotent: bool = False) -> tuple[Path, str]:
    """A run whose step `b` was terminated by `swamp run stop` while it ran."""
    wf = LONG.replace("IDEMPOTENT", ", idempotent: true" if idempotent else "")
    repo = make_repo(tmp_path / "r", {"long": wf})
    thread, results = _start(repo)
    try:
        wait_for(lambda: "b" in marks(repo), what="step b to act")
        run_id = run_ids(repo)[0]
        stopped = swamp(repo, "run", "stop", run_id)
    finally:
        thread.join(timeout=60)
    assert stopped.stdout == f"run {run_id}: stopped\n"
    assert results[0].final == "stopped"
    assert show(repo, run_id)["jobs"]["work"]["steps"]["b"]["state"] == "stopped"
    return repo, run_id


def test_a_step_stopped_in_flight_is_not_rerun_silently(tmp_path: Path) -> None:
    repo, run_id = _stopped_in_flight(tmp_path)
    refused = swamp(repo, "run", "resume", run_id, check=1)
    assert refused.stderr == (
        f"swamp: error: run {run_id}: the outcome of work/b is unknown (it was in flight "
        "when swamp died or was interrupted, and may have acted); check what it did, then "
        f"resume with `swamp run resume {run_id} --rerun-unknown`, or declare the step "
        "or its method `idempotent: true`\n"
    )
    assert marks(repo) == ["a", "b"]  # b did not run again
    (repo / "models" / "sh.yaml").write_text(
        (repo / "models" / "sh.yaml").read_text().replace("sleep ${{ inputs.seconds }}", "true")
    )
    swamp(repo, "run", "resume", run_id, "--rerun-unknown")
    assert marks(repo) == ["a", "b", "b", "c"]


def test_a_step_stopped_in_flight_that_is_idempotent_runs_again(tmp_path: Path) -> None:
    repo, run_id = _stopped_in_flight(tmp_path, idempotent=True)
    (repo / "models" / "sh.yaml").write_text(
        (repo / "models" / "sh.yaml").read_text().replace("sleep ${{ inputs.seconds }}", "true")
    )
    swamp(repo, "run", "resume", run_id)
    assert marks(repo) == ["a", "b", "b", "c"]


# `breaker.break` puts a folder where the run's control file is read from
# (.swamp/runs/<id>.control), so that reading it fails (IsADirectoryError),
# and lasts long enough for the watcher thread to poll.
BREAKER = """\
name: breaker
type: command/shell
methods:
  break:
    arguments:
      run: |
        for run in runs/*; do mkdir -p ".swamp/runs/${run#runs/}.control"; done
        echo broke >> marks.log
        sleep 0.5
"""


def test_a_watcher_that_cannot_read_the_control_file_fails_the_job(tmp_path: Path) -> None:
    """The watcher reads `swamp run stop|pause` requests (in its thread while
    steps run, and at every step boundary); when it cannot, the run must not
    go on unwatched: nothing new starts, and the job and the run fail."""
    wf = LONG.replace(
        "{name: b, model: sh, method: sleep, inputs: {name: b, seconds: 60}IDEMPOTENT}",
        "{name: b, model: breaker, method: break}",
    )
    repo = make_repo(tmp_path / "r", {"long": wf}, {"breaker": BREAKER})
    thread, results = _start(repo)
    thread.join(timeout=60)
    assert not thread.is_alive()
    state = results[0].state
    why = "cannot watch for stop and freeze: IsADirectoryError: [Errno 21] Is a directory: "
    assert state.state == "failed"
    assert (state.reason or "").startswith(why)
    job = state.jobs["work"]
    assert job.state == "failed"
    assert (job.reason or "").startswith(why)
    assert job.steps["b"].state == "succeeded"  # it was not cut short
    assert "c" not in job.steps
    assert marks(repo) == ["a", "broke"]
