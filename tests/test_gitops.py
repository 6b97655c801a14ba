"""--commit and --push on real git repositories: a bare origin and clones."""

from __future__ import annotations

from pathlib import Path

from git_helpers import clone, git, log, make_origin, message, status
from repo_helpers import swamp

GATED = """\
name: gated
jobs:
  build:
    steps:
      - {name: compile, model: sh, method: mark, inputs: {name: built}}
  ship:
    dependsOn: [build]
    hold: ship it?
    steps:
      - {name: upload, model: sh, method: mark, inputs: {name: shipped}}
"""


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    origin = make_origin(tmp_path, workflows={"gated": GATED})
    return origin, clone(origin, tmp_path / "alice")


def test_queue_commit_makes_one_commit_with_trailers(tmp_path: Path) -> None:
    _, alice = _setup(tmp_path)
    out = swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--by", "alice",
                "--commit").stdout  # fmt: skip
    item_id = out.split()[1].rstrip(":")
    assert f"  committed {git(alice, 'rev-parse', 'HEAD')[:10]}" in out
    assert status(alice) == ""
    assert message(alice) == (
        f"swamp: queue method sh.mark ({item_id})\n\n"
        f"Swamp-Item: {item_id}\nSwamp-Requested-By: alice"
    )
    files = git(alice, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert files == [f"queue/sh-mark-a-{item_id}.yaml"]


def test_uncommitted_changes_to_swamp_files_are_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    _, alice = _setup(tmp_path)
    model = alice / "models" / "sh.yaml"
    model.write_text(model.read_text() + "\n# edited\n")
    result = swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--commit",
                   check=1)  # fmt: skip
    assert result.stderr == (
        "swamp: error: uncommitted changes to swamp's files (models/sh.yaml); commit or stash "
        "them first, so that what swamp commits is only its own work\n"
    )
    assert list((alice / "queue").glob("*.yaml")) == []
    # Changes outside swamp's files do not matter.
    git(alice, "checkout", "models/sh.yaml")
    (alice / "notes.txt").write_text("unrelated\n")
    swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--commit")
    assert status(alice) == "?? notes.txt"


def test_push_rebases_and_retries_when_another_clone_pushed_first(tmp_path: Path) -> None:
    origin, alice = _setup(tmp_path)
    bob = clone(origin, tmp_path / "bob")
    swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--push")
    # Bob has not fetched: his push is refused once, then rebased and retried.
    swamp(bob, "method", "queue", "sh", "mark", "--input", "name=b", "--push")
    subjects = log(origin, "main")
    assert [s.split(" (")[0] for s in subjects[:2]] == ["swamp: queue method sh.mark"] * 2
    assert len(git(origin, "ls-tree", "--name-only", "main", "queue/").splitlines()) == 2
    assert status(bob) == ""


def test_freeze_and_unfreeze_commit_and_push(tmp_path: Path) -> None:
    origin, alice = _setup(tmp_path)
    swamp(alice, "freeze", "--reason", "incident 7", "--by", "dave", "--push")
    assert log(origin, "main")[0] == "swamp: freeze: incident 7"
    assert "Swamp-Frozen-By: dave" in message(origin, "main")
    bob = clone(origin, tmp_path / "bob")
    assert (bob / "freeze.yaml").is_file()
    result = swamp(bob, "workflow", "run", "gated", check=1)
    assert "the repository is frozen by dave since " in result.stderr
    swamp(bob, "unfreeze", "--by", "erin", "--push")
    assert log(origin, "main")[0] == "swamp: unfreeze"
    assert git(origin, "ls-tree", "--name-only", "main", "freeze.yaml") == ""


def test_purge_commits_the_deletion(tmp_path: Path) -> None:
    origin, alice = _setup(tmp_path)
    swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--push")
    swamp(alice, "queue", "purge", "--all", "--push")
    assert log(origin, "main")[0] == "swamp: purge 1 item: sh.mark"
    assert git(origin, "ls-tree", "--name-only", "main", "queue/") == ""


def test_commit_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    from repo_helpers import make_repo

    repo = make_repo(tmp_path / "plain")
    result = swamp(repo, "method", "queue", "sh", "mark", "--input", "name=a", "--commit",
                   check=1)  # fmt: skip
    assert result.stderr == (
        f"swamp: error: {repo.resolve()} is not in a git repository; --commit and --push need "
        "one (run `git init`, or drop those options)\n"
    )
    assert list((repo / "queue").glob("*.yaml")) == []
