"""Everyday friction (issue 11, point 13): messages that say what is wrong, and
git habits that no longer trip a later command."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from git_helpers import clone, git, make_origin, status
from repo_helpers import BROKEN, GATED, make_repo
from typer.testing import CliRunner

from swamp.cli import app


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run(repo: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
    """The CLI, in-process."""
    result = CliRunner().invoke(app, ["--repo", str(repo), *args], env=env)
    got = Result(result.exit_code, result.stdout, result.stderr)
    assert got.code == code, got
    return got


def _cloned(tmp_path: Path) -> Path:
    origin = make_origin(tmp_path, workflows={"gated": GATED, "broken": BROKEN})
    return clone(origin, tmp_path / "alice")


def test_a_local_run_does_not_block_the_next_commit_nor_ride_along(tmp_path: Path) -> None:
    alice = _cloned(tmp_path)
    run(alice, "method", "run", "sh", "mark", "--input", "name=local")
    assert status(alice).startswith("?? runs/")
    out = run(alice, "method", "queue", "sh", "mark", "--input", "name=queued", "--commit")
    assert "committed" in out.stdout
    committed = git(alice, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert [p for p in committed if p.startswith("runs/")] == []  # the local run stays local
    assert status(alice).startswith("?? runs/")


def test_commit_refuses_a_gitignore_that_hides_done(tmp_path: Path) -> None:
    alice = _cloned(tmp_path)
    with (alice / ".gitignore").open("a") as f:
        f.write("done/\n")
    git(alice, "commit", "--quiet", "-am", "ignore done")
    result = run(alice, "method", "queue", "sh", "mark", "--input", "name=x", "--commit", code=1)
    assert result.stderr == (
        "swamp: error: .gitignore hides done/, so --commit would leave swamp's records out of "
        "git; remove those lines from .gitignore\n"
    )
    assert list((alice / "queue").glob("*.yaml")) == []  # refused before acting


def test_a_typo_in_the_selector_is_an_error_naming_near_matches(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", workflows={"gated": GATED, "broken": BROKEN})
    result = run(repo, "queue", "execute", "--workflow", "gatd", code=1)
    assert result.stderr == (
        "swamp: error: --workflow 'gatd': no workflow of that name is defined; "
        "did you mean gated?\n"
    )
    result = run(repo, "queue", "purge", "--method", "sh.mrk", code=1)
    assert result.stderr == (
        "swamp: error: --method 'sh.mrk': no method of that name is defined; "
        "did you mean sh.mark or mark?\n"
    )
    # A known name with nothing queued is not an error.
    assert run(repo, "queue", "execute", "--workflow", "gated").stdout == (
        "nothing to execute: no queued item matches\n"
    )


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        (
            "models/tab.yaml",
            "name: tab\ntype: command/shell\nmethods:\n\tgo:\n    arguments: {run: echo}\n",
            "models/tab.yaml:4:1: invalid YAML: a tab character in the indentation; "
            "YAML indents with spaces only",
        ),
        (
            "models/t.yaml",
            "name: t\ntype: shell\nmethods:\n  go:\n    arguments: {run: echo}\n",
            'models/t.yaml:2:7: type: "shell" is not a model type; did you mean command/shell?',
        ),
        (
            "swamp.yaml",
            'version: 1\nwindows:\n  w: {cron: "15 25 * * *", duration: 1h}\n',
            "swamp.yaml:3:13: windows.w.cron: '15 25 * * *' has hour 25, out of range (0-23)",
        ),
        (
            "swamp.yaml",
            'version: 1\nwindows:\n  w: {cron: "15 2 * * *", duration: 2 hours}\n',
            'swamp.yaml:3:37: windows.w.duration: "2 hours" is not a duration: expected a number '
            "of seconds, or a string such as 500ms, 30s, 5m, 2h, 1h30m or 2d (no spaces)",
        ),
    ],
)
def test_messages_say_what_is_wrong(tmp_path: Path, path: str, text: str, message: str) -> None:
    repo = make_repo(tmp_path / "r")
    (repo / path).write_text(text)
    result = run(repo, "validate", code=1)
    assert result.stdout == message + "\n"


def test_a_listed_secret_that_is_not_set_is_named(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        models={
            "s": "name: s\ntype: command/shell\nmethods:\n  go:\n"
            '    arguments: {run: "echo ${{ secrets.SWAMP_TEST_SECRET }}"}\n'
        },
    )
    result = run(repo, "method", "run", "s", "go", code=1, env={"SWAMP_TEST_SECRET": None})  # type: ignore[dict-item]
    assert (
        "secrets.SWAMP_TEST_SECRET is not defined: the environment variable SWAMP_TEST_SECRET "
        "is not set (swamp.yaml's secrets: lists the variables it may read)"
    ) in result.stderr


def test_run_list_names_the_states_it_knows(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    result = run(repo, "run", "list", "--state", "bogus", code=2)
    assert result.stderr == (
        "swamp: error: --state 'bogus': expected one of created, running, paused, held, "
        "succeeded, failed, stopped, cancelled, interrupted\n"
    )


def test_at_in_the_past_says_so(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    args = ("method", "schedule", "sh", "mark", "--input", "name=x")
    out = run(repo, *args, "--at", "2020-01-01T00:00:00Z").stdout.splitlines()
    assert out[1] == "  due now: 2020-01-01T00:00:00Z is in the past, so the next execute runs it"
    assert "" not in out


def test_done_records_of_removed_definitions_are_history(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", workflows={"gated": GATED})
    run(repo, "workflow", "queue", "gated")
    run(repo, "queue", "execute", "--all")  # held before ship
    run(repo, "workflow", "release", "ship", "--stage")
    run(repo, "queue", "execute", "--all")
    assert len(list((repo / "done").glob("*.yaml"))) == 1
    (repo / "workflows" / "gated.yaml").unlink()
    result = run(repo, "validate", "--json")
    (problem,) = json.loads(result.stdout)
    assert problem["severity"] == "warning"
    assert problem["message"] == (
        "workflow: unknown workflow 'gated' (a finished item; kept as history)"
    )


def _plan_repo(tmp_path: Path) -> Path:
    """A clone whose main was made by `swamp init` (so it has the .gitkeep files)."""
    from swamp.commands.init import init

    seed = tmp_path / "seed"
    init(seed, install="swamp==0.1.0")
    make_repo(seed, workflows={"gated": GATED})
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(seed, "init", "--quiet", "--initial-branch=main")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "init")
    git(seed, "push", "--quiet", str(origin), "main")
    return clone(origin, tmp_path / "alice")


def test_the_plan_shows_no_phantom_deletions_and_the_hold_a_change_releases(
    tmp_path: Path,
) -> None:
    alice = _plan_repo(tmp_path)
    git(alice, "checkout", "--quiet", "-b", "stage")
    run(alice, "workflow", "queue", "gated", "--commit")
    plan = json.loads(run(alice, "queue", "plan", "--base", "main", "--json").stdout)
    assert plan["definitions"] == []  # no .gitkeep "deleted"
    (item,) = plan["items"]
    assert item["holds"] == [["ship", "ship it?"]]
    # Held on main; a pull request stages its release: the plan names the hold.
    run(alice, "queue", "execute", "--all", "--commit")
    git(alice, "checkout", "--quiet", "main")
    git(alice, "merge", "--quiet", "stage")
    git(alice, "checkout", "--quiet", "-b", "release")
    run(alice, "workflow", "release", "ship", "--stage", "--commit")
    text = run(alice, "queue", "plan", "--base", "main").stdout
    assert "  RELEASES the hold before job ship: ship it?\n" in text


def test_a_comment_only_edit_is_planned_as_harmless(tmp_path: Path) -> None:
    alice = _plan_repo(tmp_path)
    run(alice, "workflow", "queue", "gated", "--commit")
    git(alice, "checkout", "--quiet", "-b", "comment")
    wf = alice / "workflows" / "gated.yaml"
    wf.write_text("# who owns it: the platform team\n" + wf.read_text())
    git(alice, "commit", "--quiet", "-am", "a comment")
    plan = json.loads(run(alice, "queue", "plan", "--base", "main", "--json").stdout)
    (change,) = plan["definitions"]
    assert change["stale"] == []
    assert [a.split(" ")[1] for a in change["affects"]] == ["(gated)"]


def test_validate_annotates_files_under_github_actions(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    (repo / "swamp.yaml").write_text(
        'version: 1\nwindows:\n  w: {cron: "15 25 * * *", duration: 1h}\n'
    )
    result = run(repo, "validate", code=1, env={"GITHUB_ACTIONS": "true"})
    assert result.stdout.splitlines()[-1] == (
        "::error file=swamp.yaml,line=3,col=13::windows.w.cron: '15 25 * * *' has hour 25, "
        "out of range (0-23)"
    )


def test_the_plan_in_a_shallow_clone_says_what_to_do(tmp_path: Path) -> None:
    alice = _plan_repo(tmp_path)
    git(alice, "checkout", "--quiet", "-b", "stage")
    for n in range(2):
        run(alice, "method", "queue", "sh", "mark", "--input", f"name=s{n}", "--commit")
    git(alice, "push", "--quiet", "origin", "stage")
    shallow = tmp_path / "shallow"
    origin = tmp_path / "origin.git"
    git(
        tmp_path,
        "clone",
        "--quiet",
        "--depth=1",
        "--branch=stage",
        f"file://{origin}",
        str(shallow),
    )
    git(shallow, "fetch", "--quiet", "--depth=1", "origin", "main:refs/remotes/origin/main")
    result = run(shallow, "queue", "plan", "--base", "origin/main", code=1)
    assert result.stderr == (
        "swamp: error: origin/main and HEAD have no common commit in this shallow clone; swamp "
        "needs the history (actions/checkout: fetch-depth: 0, or `git fetch --unshallow`)\n"
    )
