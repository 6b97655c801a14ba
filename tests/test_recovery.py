"""Runner faults (issue 11, points 7, 8, 9, 15): a result push that fails, a
freeze pushed mid-run, a live runner slower than claimTimeout, a runner
killed mid-run and taken over elsewhere; the lease such a runner leaves, once
its run is continued by hand (issue 12). Real git: a bare origin and clones;
runners are subprocesses because they are killed or raced."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from git_helpers import clone, git, make_origin
from repo_helpers import (
    BROKEN,
    GATED,
    IDEMPOTENT_WAITER,
    SLOW,
    SWAMP_YAML,
    marks,
    run_ids,
    start_swamp,
    swamp,
    wait_for,
)

from swamp.queue.lease import Lease
from swamp.timing import parse_iso, utcnow


def _origin(tmp_path: Path, claim_timeout: str = "1h") -> Path:
    return make_origin(
        tmp_path,
        workflows={"slow": SLOW},
        models={"waiter": IDEMPOTENT_WAITER},
        swamp_yaml=SWAMP_YAML + f"defaults: {{claimTimeout: {claim_timeout}}}\n",
    )


def _item_id(repo: Path) -> str:
    (row,) = list(json.loads(swamp(repo, "queue", "list", "--json").stdout))
    return str(row["id"])


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _on_origin(origin: Path, folder: str) -> list[str]:
    return git(origin, "ls-tree", "--name-only", "main", f"{folder}/").splitlines()


def _lease(origin: Path, item_id: str) -> dict[str, str] | None:
    ref = f"refs/swamp/leases/{item_id}"
    if not git(origin, "for-each-ref", ref):
        return None
    text = git(origin, "log", "-1", "--format=%B", ref)
    data: dict[str, str] = json.loads(text.partition("\n\n")[2])
    return data


def _checkpointed(origin: Path, item_id: str, step: str) -> bool:
    """The lease's checkpoint holds the journal with `step` succeeded."""
    lease = _lease(origin, item_id)
    if lease is None:
        return False
    shown = subprocess.run(
        ["git", "show", f"refs/swamp/leases/{item_id}:runs/{lease['run']}/journal.jsonl"],
        cwd=origin,
        capture_output=True,
        text=True,
        check=False,
    )
    journal = shown.stdout if shown.returncode == 0 else ""  # leased before the run began
    return any(
        e.get("type") == "step-finished" and e.get("step") == step and e.get("state") == "succeeded"
        for e in map(json.loads, journal.splitlines())
    )


def test_a_result_that_cannot_be_pushed_is_kept_and_landed_without_running_again(
    tmp_path: Path,
) -> None:
    origin = _origin(tmp_path)
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "slow", "--push")
    swamp(engineer, "method", "queue", "sh", "mark", "--input", "name=m1", "--push")
    runner = clone(origin, tmp_path / "runner")
    proc = start_swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    wait_for(lambda: "b" in marks(runner), what="step b to start")

    # A person edits the claimed item meanwhile: its result push conflicts.
    git(engineer, "pull", "--quiet", "--rebase")
    (slow_file,) = list((engineer / "queue").glob("slow-*.yaml"))
    data = yaml.safe_load(slow_file.read_text())
    data["note"] = "edited by hand while it ran"
    slow_file.write_text(yaml.safe_dump(data))
    git(engineer, "commit", "--quiet", "-am", "a hand edit")
    git(engineer, "push", "--quiet")
    wait_for(lambda: _lease(origin, data["id"]) is not None, what="the runner's first renewal")
    (runner / "GO").touch()
    result = _finish(proc)

    assert result.returncode == 1, result.stderr
    slow_id = data["id"]
    assert f"could not be pushed ({slow_id}); nothing is lost" in result.stderr
    assert "swamp queue recover" in result.stderr
    # The other item's result is on origin: one conflict strands no other.
    assert len(_on_origin(origin, "done")) == 1
    assert git(origin, "for-each-ref", "--format=%(refname)", "refs/swamp/results/") == (
        f"refs/swamp/results/{slow_id}"
    )
    assert git(runner, "status", "--porcelain", "--", "queue", "done", "runs") == ""

    # The recovery (the template's `if: failure() || cancelled()` step) lands it.
    landed = swamp(runner, "queue", "recover")
    assert f"{slow_id}: landed its result" in landed.stdout
    assert len(_on_origin(origin, "done")) == 2
    assert _on_origin(origin, "queue") == []
    assert git(origin, "for-each-ref", "refs/swamp/results/") == ""
    assert _lease(origin, slow_id) is None  # its runner's lease went with its result
    assert sorted(marks(runner)) == ["a", "b", "c", "m1"]  # nothing ran twice
    assert git(runner, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")
    again = swamp(runner, "queue", "recover")
    assert "nothing to recover" in again.stdout


def test_a_freeze_pushed_from_another_clone_pauses_a_running_runner(tmp_path: Path) -> None:
    origin = _origin(tmp_path, claim_timeout="2s")
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "slow", "--push")
    runner = clone(origin, tmp_path / "runner")
    proc = start_swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    wait_for(lambda: "b" in marks(runner), what="step b to start")

    swamp(engineer, "freeze", "--reason", "incident", "--push")
    wait_for(
        (runner / ".swamp" / "origin-freeze.yaml").exists,
        what="the runner to see origin's freeze",
    )
    (runner / "GO").touch()
    result = _finish(proc)

    assert result.returncode == 0, result.stderr
    assert "paused" in result.stdout
    assert marks(runner) == ["a", "b"]  # c never started
    git(engineer, "pull", "--quiet", "--rebase")
    (item,) = [yaml.safe_load(p.read_text()) for p in (engineer / "queue").glob("*.yaml")]
    assert item["state"] == "paused"
    assert not (runner / ".swamp" / "origin-freeze.yaml").exists()


def test_a_live_runner_slower_than_the_claim_timeout_is_never_taken_over(
    tmp_path: Path,
) -> None:
    origin = _origin(tmp_path, claim_timeout="3s")
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "slow", "--push")
    item_id = _item_id(engineer)
    runner = clone(origin, tmp_path / "runner")
    proc = start_swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    wait_for(lambda: "b" in marks(runner), what="step b to start")

    other = clone(origin, tmp_path / "other")
    (other / "GO").touch()
    (claimed,) = (other / "queue").glob("*.yaml")
    claimed_at = parse_iso(yaml.safe_load(claimed.read_text())["claim"]["at"])
    # Wait until the claim is older than claimTimeout: by time alone it is stale.
    wait_for(
        lambda: (utcnow() - claimed_at).total_seconds() > 4,
        what="the claim to age past claimTimeout",
    )
    # The listing judges it as a takeover would: by its renewed lease.
    (row,) = json.loads(swamp(other, "queue", "list", "--json").stdout)
    assert row["state"] == "running", row
    assert "lease renewed at" in row["detail"]
    refused = swamp(other, "queue", "execute", "--item", item_id, "--reclaim", "--push")
    assert f"{item_id}: running: its runner" in refused.stdout
    assert "renewed its lease" in refused.stdout
    # So does a runner that executes the whole queue: it skips the item as
    # running, and does not suggest taking it over.
    passed = swamp(other, "queue", "execute", "--all", "--commit", "--push")
    assert "lease renewed at" in passed.stdout, passed.stdout
    assert "--reclaim" not in passed.stdout + passed.stderr
    assert marks(other) == []

    (runner / "GO").touch()
    result = _finish(proc)
    assert result.returncode == 0, result.stderr
    assert marks(runner) == ["a", "b", "c"]
    assert len(_on_origin(origin, "done")) == 1
    assert _lease(origin, item_id) is None  # released with the result


def test_a_killed_runner_is_taken_over_elsewhere_from_its_checkpoint(tmp_path: Path) -> None:
    origin = _origin(tmp_path, claim_timeout="2s")
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "slow", "--push")
    item_id = _item_id(engineer)
    runner = clone(origin, tmp_path / "runner")
    proc = start_swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    wait_for(lambda: _checkpointed(origin, item_id, "a"), what="step a to be checkpointed")
    os.killpg(proc.pid, signal.SIGKILL)  # the job is cancelled, or its machine dies
    proc.communicate()

    other = clone(origin, tmp_path / "other")
    (other / "GO").touch()
    wait_for(  # listed as reclaimable once its lease has lapsed, by the takeover's rule
        lambda: (
            json.loads(swamp(other, "queue", "list", "--json").stdout)[0]["state"] == "stale-claim"
        ),
        what="the dead runner's lease to lapse",
    )

    def taken_over() -> bool:
        # b was in flight at the kill: its outcome is unknown, so it runs again
        # only because the operator says so.
        out = swamp(
            other, "queue", "execute", "--item", item_id, "--reclaim", "--push", "--rerun-unknown"
        ).stdout
        return "running:" not in out

    wait_for(taken_over, what="the dead runner's lease to lapse")
    assert "a" not in marks(other)  # a succeeded before the kill: not run again
    assert marks(other) == ["b", "c"]
    assert len(_on_origin(origin, "done")) == 1
    assert _on_origin(origin, "queue") == []


def test_a_resumed_run_that_ends_before_its_first_renewal_leaves_no_lease_behind(
    tmp_path: Path,
) -> None:
    origin = _origin(tmp_path)  # claimTimeout 1h: a lease is renewed every 5 s
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "slow", "--push")
    item_id = _item_id(engineer)
    runner = clone(origin, tmp_path / "runner")
    proc = start_swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    wait_for(lambda: _lease(origin, item_id) is not None, what="the runner's first renewal")
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the run stops, its lease stays on origin
    interrupted = _finish(proc)
    assert interrupted.returncode == 130, interrupted.stderr
    assert _lease(origin, item_id) is not None

    # Resumed on the same checkout: it ends well within its own keeper's first tick.
    (runner / "GO").touch()
    swamp(runner, "queue", "execute", "--item", item_id, "--commit", "--push")
    assert marks(runner).count("a") == 1 and marks(runner)[-1] == "c"
    assert len(_on_origin(origin, "done")) == 1
    assert _lease(origin, item_id) is None  # the earlier runner's lease went with the result


TWO_STEPS = """\
name: two
jobs:
  j:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
      - {name: b, model: sh, method: mark, inputs: {name: b}}
"""

# Stands in for git in the runner's process: before the KILL_AT-th git call
# it kills the runner's whole process group, as a machine that dies would.
KILLING_GIT = """\
#!/bin/sh
n=$(( $(cat "$GIT_CALLS" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$GIT_CALLS"
if [ "$n" -eq "$KILL_AT" ]; then kill -9 -- "-$PPID"; exit 137; fi
exec {git} "$@"
"""


EXECUTE = ("queue", "execute", "--all", "--commit", "--push")


def _run_killed(tmp: Path, runner: Path, kill_at: int) -> int:
    """Execute on `runner`, killed before its kill_at-th git call (0: never);
    the number of git calls it made."""
    import shutil

    (tmp / "bin").mkdir(exist_ok=True)
    wrapper = tmp / "bin" / "git"
    wrapper.write_text(KILLING_GIT.format(git=shutil.which("git")))
    wrapper.chmod(0o755)
    calls = tmp / "git-calls"
    calls.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_CALLS": str(calls),
        "KILL_AT": str(kill_at),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "swamp", "--repo", str(runner), *EXECUTE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    _, err = proc.communicate(timeout=120)
    if kill_at == 0:
        assert proc.returncode == 0, err
    return int(calls.read_text()) if calls.exists() else 0


def _world(tmp: Path) -> tuple[Path, Path, str]:
    tmp.mkdir()
    origin = make_origin(
        tmp,
        workflows={"two": TWO_STEPS},
        swamp_yaml=SWAMP_YAML + "defaults: {claimTimeout: 1s}\n",
    )
    engineer = clone(origin, tmp / "engineer")
    swamp(engineer, "workflow", "queue", "two", "--push")
    return origin, clone(origin, tmp / "runner"), _item_id(engineer)


def _checkpoint(origin: Path, item_id: str) -> set[str]:
    """The steps origin knows succeeded: in the lease's checkpoint, or done."""
    if _on_origin(origin, "done"):
        return {"a", "b"}
    return {s for s in "ab" if _checkpointed(origin, item_id, s)}


def _recover_elsewhere(tmp: Path, origin: Path, item_id: str, n: int) -> list[str]:
    """Another clone lands what it can, then takes the item over once the
    dead runner's lease has lapsed; the steps it ran."""
    other = clone(origin, tmp / "other")
    swamp(other, "queue", "recover")

    def finished() -> bool:
        if _on_origin(origin, "done"):
            return True
        swamp(other, "queue", "execute", "--item", item_id, "--reclaim", "--push")
        return False

    wait_for(finished, what=f"the item killed before git call {n} to finish")
    return marks(other)


def _kill_points(calls: int) -> list[int]:
    """Every git call with SWAMP_KILL_EVERY_GIT_CALL=1 (about 45 worlds, some
    5-15 minutes on 2 cores); else eight spread over the run, both legs, and
    the last two (the final commit and push, on either checkout)."""
    if os.environ.get("SWAMP_KILL_EVERY_GIT_CALL") == "1":
        return list(range(1, calls + 1))
    step = max(1, calls // 3)
    points = sorted({*range(1, calls + 1, step), calls - 1, calls})
    return sorted({p + d for p in points for d in (0, 1) if p + d <= calls})


@pytest.mark.parametrize("leg", ["here", "elsewhere"])
def test_a_runner_killed_before_each_git_call_is_recovered_here_and_elsewhere(
    tmp_path: Path, leg: str
) -> None:
    """Odd kill points are recovered on the runner's own checkout, even ones
    from another clone: one test a leg, so that two workers share the sweep."""
    calls = _run_killed(tmp_path / "count", _world(tmp_path / "count")[1], 0)
    assert calls > 10
    points = [n for n in _kill_points(calls) if (n % 2 == 1) == (leg == "here")]
    assert points
    for n in points:
        tmp = tmp_path / f"kill-{n}"
        origin, runner, item_id = _world(tmp)
        _run_killed(tmp, runner, n)
        known = _checkpoint(origin, item_id)
        if n % 2:  # on its own checkout: one command, then the next scheduled run
            swamp(runner, "queue", "recover", "--resume")
            swamp(runner, *EXECUTE)
            assert sorted(marks(runner)) == ["a", "b"], f"killed before git call {n}"
        else:
            ran = _recover_elsewhere(tmp, origin, item_id, n)
            # Steps origin knew had succeeded never run again.
            assert not known & set(ran), f"killed before git call {n}"
            assert sorted(set(marks(runner) + ran)) == ["a", "b"]
        assert len(_on_origin(origin, "done")) == 1, f"killed before git call {n}"
        assert _on_origin(origin, "queue") == [], f"killed before git call {n}"


def _two_items(tmp_path: Path) -> tuple[Path, Path, Path, list[str]]:
    origin = _origin(tmp_path)
    engineer = clone(origin, tmp_path / "engineer")
    ids = []
    for name in ("m1", "m2"):
        out = swamp(engineer, "method", "queue", "sh", "mark", "--input", f"name={name}", "--push")
        ids.append(out.stdout.split()[1].rstrip(":"))
    return origin, engineer, clone(origin, tmp_path / "runner"), ids


def test_results_held_locally_are_pushed_by_the_next_execute_and_block_nothing(
    tmp_path: Path,
) -> None:
    origin, _, runner, (m1, m2) = _two_items(tmp_path)
    # A result committed but never pushed: the next `execute --push` pushes it.
    swamp(runner, "queue", "execute", "--item", m1, "--commit")
    assert _on_origin(origin, "done") == []
    swamp(runner, "queue", "execute", "--item", m2, "--commit", "--push")
    assert len(_on_origin(origin, "done")) == 2
    assert git(runner, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")

    # An item finished here but not committed (its runner stopped there) blocks
    # no command: what it left is committed first.
    swamp(runner, "method", "queue", "sh", "mark", "--input", "name=m3", "--push")
    swamp(runner, "queue", "execute", "--all")
    assert git(runner, "status", "--porcelain", "--", "queue", "done", "runs") != ""
    swamp(runner, "method", "queue", "sh", "mark", "--input", "name=m4", "--commit", "--push")
    assert len(_on_origin(origin, "done")) == 3
    assert marks(runner) == ["m1", "m2", "m3"]


def test_unpushed_results_that_conflict_with_origin_are_kept_aside_and_landed(
    tmp_path: Path,
) -> None:
    origin, engineer, runner, (m1, _) = _two_items(tmp_path)
    swamp(runner, "queue", "execute", "--item", m1, "--commit")
    git(engineer, "pull", "--quiet", "--rebase")
    (m1_file,) = list((engineer / "queue").glob(f"*{m1}.yaml"))
    m1_file.write_text(m1_file.read_text() + "note: edited meanwhile\n")
    git(engineer, "commit", "--quiet", "-am", "a hand edit")
    git(engineer, "push", "--quiet")

    result = swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    assert "conflict with origin; they are kept at refs/swamp/results/unpushed-" in result.stderr
    # The same execute lands what it kept aside (its result wins over the edit).
    assert ": landed its result kept at refs/swamp/results/unpushed-" in result.stdout
    assert marks(runner) == ["m1", "m2"]  # m2 ran; m1 was not run again
    assert len(_on_origin(origin, "done")) == 2
    assert _on_origin(origin, "queue") == []
    assert "nothing to recover" in swamp(runner, "queue", "recover").stdout


def test_a_runner_killed_between_staging_and_committing_its_results_is_recovered_here(
    tmp_path: Path,
) -> None:
    """The full kill sweep's last point on the runner's own checkout: its
    result is on origin (pushed per item) and staged here, the item's queue
    file staged as deleted, when the runner dies before its final commit."""
    origin, runner, _ = _world(tmp_path / "w")
    swamp(runner, *EXECUTE)
    claim = git(runner, "log", "-1", "--format=%H", "--grep=^swamp: claim")
    git(runner, "reset", "--quiet", "--soft", claim)  # the state the kill -9 leaves
    staged = git(runner, "status", "--porcelain", "--", "queue", "done").splitlines()
    assert sorted(line[:2] for line in staged) == ["A ", "D "]

    swamp(runner, "queue", "recover", "--resume")
    swamp(runner, *EXECUTE)
    assert marks(runner) == ["a", "b"]  # nothing ran again
    assert len(_on_origin(origin, "done")) == 1
    assert _on_origin(origin, "queue") == []
    assert git(runner, "status", "--porcelain", "--", "queue", "done", "runs") == ""
    assert git(runner, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")


def test_a_runner_cancelled_by_a_signal_leaves_its_item_interrupted_on_origin(
    tmp_path: Path,
) -> None:
    """GitHub cancels a job with SIGINT; the template's recovery step then runs
    `swamp queue recover` on that checkout. Origin shows the item interrupted,
    and the documented command resumes it anywhere, skipping what succeeded."""
    origin = _origin(tmp_path)
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "slow", "--push")
    item_id = _item_id(engineer)
    runner = clone(origin, tmp_path / "runner")
    proc = start_swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    wait_for(lambda: "b" in marks(runner), what="step b to start")
    proc.send_signal(signal.SIGINT)
    result = _finish(proc)
    assert result.returncode == 130, result.stderr

    recovered = swamp(runner, "queue", "recover")
    assert f"continue it with `swamp queue execute --item {item_id}`" in recovered.stdout
    other = clone(origin, tmp_path / "other")
    (row,) = json.loads(swamp(other, "queue", "list", "--json").stdout)
    assert row["state"] == "interrupted", row
    assert row["detail"].endswith(f"resume with: swamp queue execute --item {item_id}")
    assert "interrupted" in swamp(other, "queue", "execute", "--all", "--push").stdout
    assert marks(other) == []  # never again by accident

    (other / "GO").touch()
    swamp(other, "queue", "execute", "--item", item_id, "--push")
    assert marks(other) == ["b", "c"]  # a succeeded before the signal; b is idempotent
    assert len(_on_origin(origin, "done")) == 1
    assert _on_origin(origin, "queue") == []


@contextlib.contextmanager
def _ended_on_failure(proc: subprocess.Popen[str], checkout: Path) -> Iterator[None]:
    """If the test fails here, GO lets the runner waiting in `checkout`
    finish: a failed assertion leaves no runner behind."""
    try:
        yield
    except BaseException:
        (checkout / "GO").touch()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=60)
        raise


def _interrupted_with_its_lease(tmp_path: Path, workflow: str = "slow") -> tuple[Path, Path, str]:
    """A --push runner stopped by Ctrl-C while step b waits: its item is
    interrupted and its lease is left on origin. (origin, runner, item)."""
    origin = _origin(tmp_path, claim_timeout="2s")  # renewed every 0.5 s
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", workflow, "--push")
    item_id = _item_id(engineer)
    runner = clone(origin, tmp_path / "runner")
    proc = start_swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    with _ended_on_failure(proc, runner):
        wait_for(lambda: "b" in marks(runner), what="step b to start")
        wait_for(lambda: _lease(origin, item_id) is not None, what="the runner's first renewal")
        proc.send_signal(signal.SIGINT)
        interrupted = _finish(proc)
    assert interrupted.returncode == 130, interrupted.stderr
    assert _lease(origin, item_id) is not None
    return origin, runner, item_id


def test_run_resume_push_of_an_interrupted_item_takes_its_runners_lease_away(
    tmp_path: Path,
) -> None:
    origin, runner, item_id = _interrupted_with_its_lease(tmp_path)
    (run_id,) = run_ids(runner)

    (runner / "GO").touch()
    resumed = swamp(runner, "run", "resume", run_id, "--push")
    assert "warning" not in resumed.stderr
    assert marks(runner) == ["a", "b", "b", "c"]  # b is idempotent: it ran again
    assert len(_on_origin(origin, "done")) == 1
    assert _on_origin(origin, "queue") == []
    assert _lease(origin, item_id) is None  # the lease went with the result


def _held_item(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """An item held before job `ship`, its result on origin. (origin, runner, item, run)."""
    origin = make_origin(tmp_path, workflows={"gated": GATED})
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "gated", "--push")
    runner = clone(origin, tmp_path / "runner")
    swamp(runner, "queue", "execute", "--all", "--push")
    (run_id,) = run_ids(runner)
    return origin, runner, _item_id(runner), run_id


def _leave_lease(checkout: Path, item_id: str, run_id: str) -> None:
    """Push the lease a runner of `run_id` leaves when it dies between
    pushing its result and deleting its lease."""
    lease = Lease(item_id, run_id, "dead-runner", "elsewhere", "/work", "2026-11-29T12:00:00Z")
    sha = git(checkout, "commit-tree", "-m", lease.as_message(), "HEAD^{tree}")
    git(checkout, "push", "--quiet", "origin", f"{sha}:refs/swamp/leases/{item_id}")


def test_workflow_release_push_takes_away_the_lease_of_its_run(tmp_path: Path) -> None:
    origin, runner, item_id, run_id = _held_item(tmp_path)
    _leave_lease(runner, item_id, run_id)

    released = swamp(runner, "workflow", "release", "ship", "--run", run_id, "--push")
    assert "warning" not in released.stderr
    assert marks(runner) == ["built", "shipped"]
    assert len(_on_origin(origin, "done")) == 1
    assert _lease(origin, item_id) is None


def test_the_lease_of_another_run_of_the_item_is_left_alone(tmp_path: Path) -> None:
    origin, runner, item_id, run_id = _held_item(tmp_path)
    _leave_lease(runner, item_id, "20261129-120000-gated-000000000000")

    swamp(runner, "workflow", "release", "ship", "--run", run_id, "--push")
    assert len(_on_origin(origin, "done")) == 1
    lease = _lease(origin, item_id)
    assert lease is not None and lease["run"] == "20261129-120000-gated-000000000000"


REFUSE_LEASE_DELETION = """\
#!/bin/sh
while read old new ref; do
  case "$ref" in refs/swamp/leases/*)
    if [ "$new" = 0000000000000000000000000000000000000000 ]; then
      echo "leases are not deleted here" >&2; exit 1
    fi;;
  esac
done
"""


def test_a_lease_that_cannot_be_deleted_is_a_warning_and_the_result_stands(
    tmp_path: Path,
) -> None:
    origin, runner, item_id, run_id = _held_item(tmp_path)
    _leave_lease(runner, item_id, run_id)
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(REFUSE_LEASE_DELETION)
    hook.chmod(0o755)

    released = swamp(runner, "workflow", "release", "ship", "--run", run_id, "--push")
    (warning,) = [line for line in released.stderr.splitlines() if "warning" in line]
    assert warning.startswith(f"swamp: warning: the lease of run {run_id} is still on origin (")
    assert "(pre-receive hook declined)" in warning
    assert warning.endswith(f"delete it with `git push origin :refs/swamp/leases/{item_id}`")
    assert len(_on_origin(origin, "done")) == 1  # the result stands
    assert _on_origin(origin, "queue") == []
    assert _lease(origin, item_id) is not None


def test_run_resume_push_claims_the_item_and_keeps_its_lease_while_it_runs(
    tmp_path: Path,
) -> None:
    """Continued by hand with --push, an item is claimed and leased as the
    executor does it: elsewhere it is seen running, and never run twice."""
    origin, runner, item_id = _interrupted_with_its_lease(tmp_path)
    (run_id,) = run_ids(runner)
    left = git(origin, "rev-parse", f"refs/swamp/leases/{item_id}")

    proc = start_swamp(runner, "run", "resume", run_id, "--push")
    with _ended_on_failure(proc, runner):
        wait_for(lambda: marks(runner).count("b") == 2, what="step b to start again")
        wait_for(
            lambda: git(origin, "rev-parse", f"refs/swamp/leases/{item_id}") != left,
            what="the lease's renewal by the resumed run",
        )
        lease = _lease(origin, item_id)
        assert lease is not None and lease["run"] == run_id
        other = clone(origin, tmp_path / "other")
        (row,) = json.loads(swamp(other, "queue", "list", "--json").stdout)
        assert row["state"] == "running", row
        (other / "GO").touch()  # were it run here, it would not wait
        elsewhere = swamp(other, "queue", "execute", "--item", item_id, "--push")
        # Running, judged by its lease (however old the claim), as a takeover would.
        assert f"{item_id} slow: running: claimed by " in elsewhere.stdout
        assert "ran 0 of 1 selected" in elsewhere.stdout
        assert marks(other) == []  # not run twice

        (runner / "GO").touch()
        resumed = _finish(proc)
    assert resumed.returncode == 0, resumed.stderr
    assert marks(runner) == ["a", "b", "b", "c"]
    # The audit names the claim this resume pushed (the executor's was the first).
    claims = git(origin, "log", "--format=%H", "--grep=^swamp: claim", "main").splitlines()
    assert len(claims) == 2
    (record,) = _on_origin(origin, "done")
    done = yaml.safe_load(git(origin, "show", f"main:{record}"))
    assert done["result"]["commits"]["claim"] == claims[0]
    assert _lease(origin, item_id) is None


def test_run_resume_push_that_loses_the_race_for_its_claim_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another runner changes the item on origin between this resume's check
    and the push of its claim: the resume stops before any step, says why,
    and leaves the checkout as origin has it."""
    from swamp.queue import claims

    origin, runner, item_id = _interrupted_with_its_lease(tmp_path)
    (run_id,) = run_ids(runner)
    journal = runner / "runs" / run_id / "journal.jsonl"
    before = journal.read_bytes()
    other = clone(origin, tmp_path / "other")
    real = claims.push_claims

    def raced(repo: object, claimed: list[object]) -> object:
        git(other, "pull", "--quiet")
        (item,) = (other / "queue").glob("*.yaml")
        item.write_text(item.read_text() + "# taken by another runner\n")
        git(other, "commit", "--quiet", "-am", "another runner's claim")
        git(other, "push", "--quiet")
        return real(repo, claimed)  # type: ignore[arg-type]

    monkeypatch.setattr(claims, "push_claims", raced)
    (runner / "GO").touch()  # were a step run, it would not wait
    refused = swamp(runner, "run", "resume", run_id, "--push", check=1)
    assert refused.stderr.startswith(
        f"swamp: error: queue item {item_id} changed on origin while it was being claimed"
    ), refused.stderr
    assert marks(runner) == ["a", "b"]  # as the interrupted run left them
    assert journal.read_bytes() == before
    assert git(runner, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")
    assert git(runner, "status", "--porcelain", "--", "queue", "done", "runs") == ""
    assert len(git(origin, "log", "--format=%H", "--grep=^swamp: claim", "main").split()) == 1


# Fails at `check` until FIXED exists, then waits for GO.
FIXED_THEN_WAIT = """\
name: fixed
jobs:
  j:
    steps:
      - {name: check, model: sh, method: exists, inputs: {file: FIXED}}
      - {name: b, model: waiter, method: wait-for-go, inputs: {name: b}}
"""


def test_run_resume_push_never_takes_an_item_a_live_runner_holds(tmp_path: Path) -> None:
    origin = make_origin(
        tmp_path, workflows={"fixed": FIXED_THEN_WAIT}, models={"waiter": IDEMPOTENT_WAITER}
    )
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "fixed", "--push")
    item_id = _item_id(engineer)
    runner = clone(origin, tmp_path / "runner")
    swamp(runner, "queue", "execute", "--all", "--push", check=1)  # failed, on origin
    (run_id,) = run_ids(runner)
    (runner / "FIXED").touch()
    proc = start_swamp(runner, "queue", "execute", "--item", item_id, "--push")
    with _ended_on_failure(proc, runner):
        wait_for(lambda: "b" in marks(runner), what="the runner to resume it")

        other = clone(origin, tmp_path / "other")  # it has the failed run's journal
        (other / "FIXED").touch()
        (other / "GO").touch()  # were it run here, it would not wait
        refused = swamp(other, "run", "resume", run_id, "--push", check=1)
        assert refused.stderr.startswith(
            f"swamp: error: queue item {item_id} is claimed elsewhere: claimed by "
        )
        assert marks(other) == []
        assert git(other, "status", "--porcelain", "--", "queue", "done", "runs") == ""

        (runner / "GO").touch()
        assert _finish(proc).returncode == 0
    assert len(_on_origin(origin, "done")) == 1


GATED_THEN_WAIT = GATED.replace(
    "{name: upload, model: sh, method: mark, inputs: {name: shipped}}",
    "{name: upload, model: waiter, method: wait-for-go, inputs: {name: shipped}}",
)


def test_workflow_release_push_records_no_release_while_a_live_runner_holds_the_item(
    tmp_path: Path,
) -> None:
    origin = make_origin(
        tmp_path, workflows={"gated": GATED_THEN_WAIT}, models={"waiter": IDEMPOTENT_WAITER}
    )
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "gated", "--push")
    runner = clone(origin, tmp_path / "runner")
    swamp(runner, "queue", "execute", "--all", "--push")  # held, on origin
    (run_id,) = run_ids(runner)
    git(engineer, "pull", "--quiet", "--rebase")
    swamp(engineer, "workflow", "release", "ship", "--stage", "--push")
    proc = start_swamp(runner, "queue", "execute", "--all", "--push")  # performs it
    with _ended_on_failure(proc, runner):
        wait_for(lambda: "shipped" in marks(runner), what="the runner to release it")

        other = clone(origin, tmp_path / "other")  # it has the held run's journal
        (other / "GO").touch()  # were it run here, it would not wait
        refused = swamp(other, "workflow", "release", "ship", "--run", run_id, "--push", check=1)
        assert "is claimed elsewhere: claimed by" in refused.stderr
        assert marks(other) == []
        assert git(other, "status", "--porcelain", "--", "queue", "done", "runs") == ""

        (runner / "GO").touch()
        assert _finish(proc).returncode == 0
    assert len(_on_origin(origin, "done")) == 1


def test_run_retry_push_publishes_the_result_and_takes_the_lease_of_its_run_away(
    tmp_path: Path,
) -> None:
    origin = make_origin(tmp_path, workflows={"broken": BROKEN})
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "broken", "--push")
    runner = clone(origin, tmp_path / "runner")
    swamp(runner, "queue", "execute", "--all", "--push", check=1)  # failed at check
    (run_id,) = run_ids(runner)
    item_id = _item_id(runner)
    _leave_lease(runner, item_id, run_id)

    (runner / "FIXED").touch()
    retried = swamp(runner, "run", "retry", run_id, "--step", "check", "--push")
    assert "warning" not in retried.stderr
    assert marks(runner) == ["first", "last"]  # from check on: first is not run again
    assert len(_on_origin(origin, "done")) == 1
    assert _on_origin(origin, "queue") == []
    assert git(origin, "log", "-1", "--format=%s", "main").startswith(
        f"swamp: retry run {run_id} from check: succeeded"
    )
    assert _lease(origin, item_id) is None
