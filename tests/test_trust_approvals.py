"""The approval rule against a GitHub REST API on 127.0.0.1: every change
since staging approved, on the pull request's final head, by others; and a
shallow clone deepened rather than guessed from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from git_helpers import clone, git
from github_helpers import TOKEN, FakeGitHub, approval_origin
from repo_helpers import marks
from trust_helpers import cli


def _origin(tmp_path: Path, url: str) -> tuple[Path, Path]:
    origin, engineer = approval_origin(tmp_path, url)
    result = cli(engineer, "method", "queue", "sh", "mark", "--input", "name=x", "--push")
    assert result.code == 0, result.text
    return origin, engineer


def _pr(number: int, head: str) -> dict[str, Any]:
    return {
        "number": number,
        "html_url": f"https://github.test/acme/ops/pull/{number}",
        "merged_at": "2026-11-24T10:00:00Z",
        "user": {"login": "alice"},
        "head": {"sha": head},
    }


def _approve(github: FakeGitHub, sha: str, number: int, *, on: str = "head") -> None:
    head = f"head{number}"
    github.pulls[sha] = [_pr(number, head)]
    github.commits[number] = [{"sha": sha, "author": {"login": "alice"}}]
    github.reviews[number] = [
        {"user": {"login": "bob"}, "state": "APPROVED", "commit_id": head if on == "head" else on}
    ]


def _item(repo: Path) -> Path:
    (path,) = (repo / "queue").glob("*.yaml")
    return path


def test_an_unapproved_edit_after_the_approved_staging_is_refused(
    tmp_path: Path, github: FakeGitHub
) -> None:
    origin, engineer = _origin(tmp_path, github.url)
    _approve(github, git(engineer, "rev-parse", "HEAD"), 7)
    path = _item(engineer)
    data = yaml.safe_load(path.read_text())
    data["notBefore"] = "2020-01-01T00:00:00Z"  # a request field, changed without review
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    git(engineer, "commit", "--quiet", "-am", "move it earlier")
    git(engineer, "push", "--quiet")
    edit = git(engineer, "rev-parse", "HEAD")
    runner = clone(origin, tmp_path / "runner")
    result = cli(runner, "queue", "execute", "--all", env=TOKEN)
    assert result.code == 1
    assert f"unapproved: commit {edit[:10]} that changed it is in no pull request" in result.stdout
    assert marks(runner) == []


def test_a_pinned_definition_edited_with_its_pin_needs_approval(
    tmp_path: Path, github: FakeGitHub
) -> None:
    origin, engineer = _origin(tmp_path, github.url)
    _approve(github, git(engineer, "rev-parse", "HEAD"), 7)
    model = engineer / "models" / "sh.yaml"
    model.write_text(model.read_text().replace('echo "marked=', 'echo "MARKED='))
    from swamp.validate import load_repository

    digest = load_repository(engineer).digests["models/sh.yaml"]
    path = _item(engineer)
    data = yaml.safe_load(path.read_text())
    data["pin"]["models/sh.yaml"] = digest
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    git(engineer, "commit", "--quiet", "-am", "change the model and its pin")
    git(engineer, "push", "--quiet")
    edit = git(engineer, "rev-parse", "HEAD")
    runner = clone(origin, tmp_path / "runner")
    result = cli(runner, "queue", "execute", "--all", env=TOKEN)
    assert f"unapproved: commit {edit[:10]} that changed it is in no pull request" in result.stdout
    assert marks(runner) == []


def test_an_approval_of_an_earlier_head_does_not_count(tmp_path: Path, github: FakeGitHub) -> None:
    origin, engineer = _origin(tmp_path, github.url)
    _approve(github, git(engineer, "rev-parse", "HEAD"), 7, on="an-earlier-head")
    runner = clone(origin, tmp_path / "runner")
    result = cli(runner, "queue", "execute", "--all", env=TOKEN)
    assert result.code == 1
    assert "has 0 (not on its final head: bob)" in result.stdout
    assert marks(runner) == []


def test_a_commit_author_of_the_pull_request_cannot_approve_it(
    tmp_path: Path, github: FakeGitHub
) -> None:
    origin, engineer = _origin(tmp_path, github.url)
    sha = git(engineer, "rev-parse", "HEAD")
    _approve(github, sha, 7)
    github.commits[7].append({"sha": "other", "author": {"login": "bob"}})
    runner = clone(origin, tmp_path / "runner")
    result = cli(runner, "queue", "execute", "--all", env=TOKEN)
    assert "needs 1 approval(s) other than its authors and requester" in result.stdout
    assert marks(runner) == []


def test_a_shallow_clone_is_deepened_and_done_names_the_requesting_commit(
    tmp_path: Path, github: FakeGitHub
) -> None:
    origin, engineer = _origin(tmp_path, github.url)
    staged = git(engineer, "rev-parse", "HEAD")
    _approve(github, staged, 7)
    # Later work on main makes the staging commit no longer the newest.
    (engineer / "README").write_text("unrelated\n")
    git(engineer, "add", "README")
    git(engineer, "commit", "--quiet", "-m", "unrelated work")
    git(engineer, "push", "--quiet")
    runner = tmp_path / "runner"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{origin}", str(runner))
    assert git(runner, "rev-parse", "--is-shallow-repository") == "true"
    result = cli(runner, "queue", "execute", "--all", env=TOKEN)
    assert result.code == 0, result.text
    assert marks(runner) == ["x"]
    (done,) = (runner / "done").glob("*.yaml")
    record = yaml.safe_load(done.read_text())["result"]
    assert record["requestedBy"]["commit"] == staged
    assert record["pullRequest"] == "https://github.test/acme/ops/pull/7"
    assert record["approvedBy"] == ["bob"]
    assert "gh-token-123" not in result.text


def test_a_forge_that_refuses_the_token_or_cannot_be_reached_approves_nothing(
    tmp_path: Path, github: FakeGitHub
) -> None:
    """The check fails closed, saying what the forge answered: a wrong token
    (401), then no forge at all (a port nothing listens on)."""
    origin, engineer = _origin(tmp_path, github.url)
    _approve(github, git(engineer, "rev-parse", "HEAD"), 7)
    runner = clone(origin, tmp_path / "runner")
    result = cli(runner, "queue", "execute", "--all", env={"GITHUB_TOKEN": "wrong"})
    assert result.code == 1
    assert "unapproved: the forge's answer about commit" in result.stdout
    assert 'status 401: {"message": "Bad credentials"}' in result.stdout
    assert marks(runner) == []

    github.close()  # its port is free now: a connection is refused
    result = cli(runner, "queue", "execute", "--all", env=TOKEN)
    assert result.code == 1
    assert "unapproved: the forge's answer about commit" in result.stdout
    assert f"cannot reach {github.url}" in result.stdout
    assert marks(runner) == []


def test_an_item_that_was_never_committed_is_approved_by_no_pull_request(
    tmp_path: Path, github: FakeGitHub
) -> None:
    origin, _ = _origin(tmp_path, github.url)
    runner = clone(origin, tmp_path / "runner")
    # Staged in the runner's own checkout, and never committed: nobody reviewed it.
    assert cli(runner, "method", "queue", "sh", "mark", "--input", "name=local").code == 0
    result = cli(runner, "queue", "execute", "--all", env=TOKEN)
    assert result.code == 1
    assert "unapproved: its file is not committed, so no pull request approved it" in (
        result.stdout
    )
    assert marks(runner) == []
