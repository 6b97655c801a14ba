"""Runners on several clones of one origin: review by merge, claims, races,
shards, a runner that dies, pins and approvals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from git_helpers import clone, git, log, make_origin, message, status
from github_helpers import FakeGitHub, approval_origin
from repo_helpers import BROKEN, GATED, SLOW, WAITER, marks, start_swamp, swamp, wait_for


def _done(repo: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((repo / "done").glob("*.yaml"))]


def _queued(repo: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((repo / "queue").glob("*.yaml"))]


def _merge(engineer: Path, branch: str) -> None:
    """The reviewed pull request is merged into main (a merge commit)."""
    git(engineer, "checkout", "--quiet", "main")
    git(engineer, "pull", "--quiet", "--rebase")
    git(engineer, "merge", "--quiet", "--no-ff", "-m", f"Merge pull request: {branch}", branch)
    git(engineer, "push", "--quiet", "origin", "main")


def test_review_merge_execute_release_and_purge_through_git(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, workflows={"gated": GATED})
    engineer = clone(origin, tmp_path / "engineer")
    runner = clone(origin, tmp_path / "runner")

    # 1. The engineer stages work on a branch; the pull request is merged.
    git(engineer, "checkout", "--quiet", "-b", "stage-work")
    swamp(engineer, "workflow", "queue", "gated", "--commit")
    swamp(engineer, "method", "queue", "sh", "mark", "--input", "name=m1", "--commit")
    _merge(engineer, "stage-work")

    # The runner (on merge) executes and records the results in git.
    result = swamp(runner, "queue", "execute", "--all", "--commit", "--push", "--by", "ci-bot")
    assert "held: release with: swamp workflow release ship --run" in result.stdout
    assert marks(runner) == ["built", "m1"]
    subjects = log(origin, "main")
    # Each result is pushed as its item finishes, after the one claim.
    assert sorted(s.rsplit(": ", 1)[1] for s in subjects[:2]) == ["held", "succeeded"]
    assert all(s.startswith("swamp: result of item ") for s in subjects[:2])
    assert subjects[2] == "swamp: claim 2 items"
    assert status(runner) == ""
    assert git(runner, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")

    # The engineer pulls and finds the result with its audit record.
    git(engineer, "pull", "--quiet", "--rebase")
    (done,) = _done(engineer)
    res = done["result"]
    added = git(engineer, "log", "--diff-filter=A", "--format=%H", "--", "queue/").splitlines()
    assert res["requestedBy"]["name"] == "Test Engineer"
    assert res["requestedBy"]["email"] == "engineer@example.com"
    assert res["commits"]["added"] in added
    assert res["commits"]["claim"] == git(origin, "rev-parse", "main~2")
    assert res["executedBy"] == "ci-bot"
    assert res["host"]
    (held,) = _queued(engineer)
    assert (held["state"], held["heldJob"]) == ("held", "ship")
    run_dir = engineer / "runs" / held["run"]
    assert (run_dir / "journal.jsonl").is_file()  # the held run travelled through git

    # 2. The release is a second reviewed change.
    git(engineer, "checkout", "--quiet", "-b", "release-ship")
    out = swamp(engineer, "workflow", "release", "ship", "--stage", "--by", "pm", "--commit")
    assert "release of job ship staged in queue/" in out.stdout
    assert marks(engineer) == []  # staging a release runs nothing
    _merge(engineer, "release-ship")
    swamp(runner, "queue", "execute", "--all", "--commit", "--push", "--by", "ci-bot")
    assert marks(runner) == ["built", "m1", "shipped"]
    git(engineer, "pull", "--quiet", "--rebase")
    assert _queued(engineer) == []
    gated = next(d for d in _done(engineer) if d["kind"] == "workflow")
    # Released by whoever committed the release (git's author), not by its `--by` text.
    (released,) = gated["result"]["releasedBy"]
    assert (released["job"], released["by"]) == ("ship", "Test Engineer <engineer@example.com>")
    assert released["commit"] in git(engineer, "log", "--format=%H").splitlines()

    # 3. A purge is a third: queued on main, purged by a merged change.
    swamp(engineer, "method", "queue", "sh", "mark", "--input", "name=never", "--push")
    git(engineer, "checkout", "--quiet", "-b", "purge-it")
    swamp(engineer, "queue", "purge", "--method", "mark", "--commit")
    _merge(engineer, "purge-it")
    result = swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    assert "nothing to execute" in result.stdout
    assert "never" not in marks(runner)
    assert git(origin, "ls-tree", "--name-only", "main", "queue/") == ""


def _stage_many(origin: Path, tmp_path: Path, n: int) -> None:
    engineer = clone(origin, tmp_path / "engineer")
    for i in range(n):
        swamp(engineer, "method", "queue", "sh", "mark", "--input", f"name=i{i}")
    git(engineer, "add", "-A")
    git(engineer, "commit", "--quiet", "-m", f"stage {n} items")
    git(engineer, "push", "--quiet")


def _race(
    origin: Path, runners: list[Path], *extra: list[str]
) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        start_swamp(
            r, "queue", "execute", "--all", "--commit", "--push", *(extra[i] if extra else [])
        )
        for i, r in enumerate(runners)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


def _assert_exactly_once(origin: Path, runners: list[Path], n: int) -> None:
    every = [m for r in runners for m in marks(r)]
    assert sorted(every) == sorted(f"i{i}" for i in range(n))  # each side effect once
    on_origin = git(origin, "ls-tree", "--name-only", "main", "done/").splitlines()
    assert len(on_origin) == n  # every result is on origin
    assert git(origin, "ls-tree", "--name-only", "main", "queue/") == ""
    assert "stage" in " ".join(log(origin, "main"))  # nothing lost along the way


def test_two_runners_racing_run_every_item_exactly_once(tmp_path: Path) -> None:
    n = 24
    origin = make_origin(tmp_path)
    _stage_many(origin, tmp_path, n)
    runners = [clone(origin, tmp_path / f"runner{i}") for i in range(2)]
    for result in _race(origin, runners):
        assert result.returncode == 0, result.stderr
    _assert_exactly_once(origin, runners, n)


def test_a_claim_lost_to_a_runner_that_finished_the_item_is_skipped(tmp_path: Path) -> None:
    """The claims seam, deterministically: between this runner's decision and
    its claim push, another clone runs the item to the end. The claim's
    rebase conflicts, claims reports the item as origin has it (gone), and
    the executor skips it: nothing runs twice."""
    from swamp.gitrepo import Repo
    from swamp.queue.claims import pusher
    from swamp.queue.executor import Executor
    from swamp.queue.selection import Selector, select
    from swamp.validate import load_repository

    origin = make_origin(tmp_path)
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "method", "queue", "sh", "mark", "--input", "name=x", "--push")
    runner, rival = clone(origin, tmp_path / "runner"), clone(origin, tmp_path / "rival")
    attempts: list[list[str]] = []

    def raced(claimed: list[Any]) -> Any:
        if not attempts:  # the rival is quicker, once
            swamp(rival, "queue", "execute", "--all", "--push")
        attempts.append([i.id for i in claimed])
        return push(claimed)

    chosen, _ = select(runner, Selector(all=True))
    executor = Executor(load_repository(runner), "runner", quiet=True)
    with Repo(runner) as handle:
        push = pusher(handle)
        reports = executor.run_all(chosen, Selector(all=True), 1, raced)
    assert [(r.outcome, r.detail) for r in reports] == [("skipped", "finished elsewhere")]
    assert len(attempts) == 1
    assert marks(rival) == ["x"]
    assert marks(runner) == []
    assert git(runner, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")
    assert status(runner) == ""


def test_four_shards_split_the_queue_and_push_without_conflict(tmp_path: Path) -> None:
    n = 24
    origin = make_origin(tmp_path)
    _stage_many(origin, tmp_path, n)
    runners = [clone(origin, tmp_path / f"shard{i}") for i in range(1, 5)]
    results = _race(origin, runners, *[["--shard", f"{i}/4"] for i in range(1, 5)])
    for result in results:
        assert result.returncode == 0, result.stderr
    _assert_exactly_once(origin, runners, n)
    assert all(marks(r) for r in runners)  # every shard had a share
    claims = [s for s in log(origin, "main") if s.startswith("swamp: claim")]
    assert len(claims) == 4  # one claim per shard: no shard ever lost a claim


def test_a_runner_killed_between_claim_and_result_is_reclaimed(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, workflows={"slow": SLOW}, models={"waiter": WAITER})
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "slow", "--push")
    runner = clone(origin, tmp_path / "runner")
    proc = start_swamp(runner, "queue", "execute", "--all", "--commit", "--push")
    try:
        wait_for(lambda: "b" in marks(runner), what="step b to start")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert log(origin, "main")[0] == "swamp: claim 1 item"

    # Elsewhere, the claim looks alive until the claim timeout has passed.
    git(engineer, "pull", "--quiet", "--rebase")
    (row,) = json.loads(swamp(engineer, "queue", "list", "--json").stdout)
    assert row["state"] == "running"
    config = engineer / "swamp.yaml"
    config.write_text(config.read_text() + "defaults: {claimTimeout: 0s}\n")
    (row,) = json.loads(swamp(engineer, "queue", "list", "--json").stdout)
    assert row["state"] == "stale-claim"
    assert row["detail"].endswith(
        f"(take it over with: swamp queue execute --item {row['id']} --reclaim)"
    )
    refused = swamp(engineer, "queue", "execute", "--item", row["id"])
    assert f"{row['id']} slow: skipped: claimed by " in refused.stdout
    git(engineer, "checkout", "--quiet", "swamp.yaml")

    # On the runner's own machine it is interrupted at once: no process holds it.
    (row,) = json.loads(swamp(runner, "queue", "list", "--json").stdout)
    assert row["state"] == "interrupted"
    assert row["detail"].endswith(f"(resume with: swamp queue execute --item {row['id']})")
    skipped = swamp(runner, "queue", "execute", "--all")  # never by accident
    assert f"{row['id']} slow: skipped: interrupted: claimed by " in skipped.stdout
    (runner / "GO").touch()
    swamp(runner, "queue", "execute", "--item", row["id"], "--commit", "--push", "--rerun-unknown")
    assert marks(runner) == ["a", "b", "b", "c"]  # a did not run again; b was in flight
    assert git(origin, "ls-tree", "--name-only", "main", "queue/") == ""
    assert len(git(origin, "ls-tree", "--name-only", "main", "done/").splitlines()) == 1


def test_a_definition_changed_after_review_makes_the_runner_refuse_its_item(
    tmp_path: Path,
) -> None:
    origin = make_origin(tmp_path, workflows={"gated": GATED})
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "method", "queue", "sh", "mark", "--input", "name=x", "--push")
    model = engineer / "models" / "sh.yaml"
    model.write_text(model.read_text().replace("marked=", "MARKED="))
    git(engineer, "commit", "--quiet", "-am", "change sh after the item was approved")
    git(engineer, "push", "--quiet")
    runner = clone(origin, tmp_path / "runner")
    result = swamp(runner, "queue", "execute", "--all", "--commit", "--push", check=1)
    assert "stale: changed since review: models/sh.yaml; re-approve by purging it" in result.stdout
    assert marks(runner) == []
    assert log(origin, "main")[0] == "change sh after the item was approved"


# -- four-eyes approvals against a GitHub API on 127.0.0.1 -------------------


def _approval_repo(tmp_path: Path, url: str) -> tuple[Path, Path]:
    origin, engineer = approval_origin(tmp_path, url)
    for name in ("approved", "self-approved", "orphan"):
        swamp(engineer, "method", "queue", "sh", "mark", "--input", f"name={name}", "--push")
    return engineer, clone(origin, tmp_path / "runner")


def _sha_of(repo: Path, name: str) -> str:
    (path,) = (repo / "queue").glob(f"sh-mark-{name}-*.yaml")
    return git(repo, "log", "--diff-filter=A", "--format=%H", "--", f"queue/{path.name}")


def test_items_need_an_approval_from_someone_other_than_the_requester(
    tmp_path: Path, github: FakeGitHub
) -> None:
    engineer, runner = _approval_repo(tmp_path, github.url)
    pr = {
        "number": 7,
        "html_url": "https://github.test/acme/ops/pull/7",
        "merged_at": "2026-11-24T10:00:00Z",
        "user": {"login": "alice"},
        "head": {"sha": "h7"},
    }
    github.pulls[_sha_of(engineer, "approved")] = [dict(pr)]
    github.pulls[_sha_of(engineer, "self-approved")] = [
        dict(pr, number=8, html_url="https://github.test/acme/ops/pull/8", head={"sha": "h8"})
    ]
    github.reviews[7] = [
        {"user": {"login": "bob"}, "state": "CHANGES_REQUESTED", "commit_id": "h7"},
        {"user": {"login": "alice"}, "state": "APPROVED", "commit_id": "h7"},
        {"user": {"login": "bob"}, "state": "APPROVED", "commit_id": "h7"},
    ]
    github.reviews[8] = [{"user": {"login": "alice"}, "state": "APPROVED", "commit_id": "h8"}]
    result = swamp(
        runner,
        "queue",
        "execute",
        "--all",
        "--commit",
        "--push",
        env={"GITHUB_TOKEN": "gh-token-123"},
        check=1,
    )
    assert marks(runner) == ["approved"]
    lines = result.stdout.splitlines()
    assert any(
        line.endswith(
            ": unapproved: needs 1 approval(s) other than its authors and requester on "
            "https://github.test/acme/ops/pull/8; has 0 (alice)"
        )
        for line in lines
    ), result.stdout
    assert any(
        line.endswith(
            f": unapproved: commit {_sha_of(engineer, 'orphan')[:10]} that changed it is "
            "in no pull request"
        )
        for line in lines
    ), result.stdout
    (done,) = _done(runner)
    assert done["result"]["approvedBy"] == ["bob"]
    assert done["result"]["pullRequest"] == "https://github.test/acme/ops/pull/7"
    assert {auth for _, auth in github.requests} == {"Bearer gh-token-123"}
    assert "gh-token-123" not in result.stdout + result.stderr
    assert "gh-token-123" not in message(tmp_path / "origin.git", "main")


def test_without_a_token_the_approval_policy_refuses_everything(
    tmp_path: Path, github: FakeGitHub
) -> None:
    _, runner = _approval_repo(tmp_path, github.url)
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "swamp", "--repo", str(runner), "queue", "execute", "--all"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stdout.count("unapproved: the approval policy needs a token in $GITHUB_TOKEN") == 3
    )
    assert marks(runner) == []
    assert github.requests == []


def test_a_failed_item_is_resumed_by_a_runner_on_another_machine(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, workflows={"broken": BROKEN})
    engineer = clone(origin, tmp_path / "engineer")
    swamp(engineer, "workflow", "queue", "broken", "--push")
    first = clone(origin, tmp_path / "first-runner")
    swamp(first, "queue", "execute", "--all", "--commit", "--push", check=1)
    assert marks(first) == ["first"]
    # The fix lands on main; a runner elsewhere resumes the failed run from git.
    git(engineer, "pull", "--quiet", "--rebase")
    (item,) = _queued(engineer)
    assert (item["state"], item["failedStep"]) == ("failed", "go/check")
    (engineer / "FIXED").write_text("the cause is fixed\n")
    git(engineer, "add", "FIXED")
    git(engineer, "commit", "--quiet", "-m", "fix the cause")
    git(engineer, "push", "--quiet")
    second = clone(origin, tmp_path / "second-runner")
    swamp(second, "queue", "execute", "--item", item["id"], "--commit", "--push")
    assert marks(second) == ["last"]  # `first` succeeded on the other machine: not again
    assert git(origin, "ls-tree", "--name-only", "main", "queue/") == ""
    assert len(git(origin, "ls-tree", "--name-only", "main", "done/").splitlines()) == 1
