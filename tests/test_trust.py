"""What runs is exactly what was reviewed (issue 10): each path around
review, pins and approvals that was found open, tried again in-process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from git_helpers import clone, git, make_origin
from repo_helpers import GATED, make_repo, marks
from trust_helpers import cli

from swamp.items import identity

ANNOUNCE = """\
name: notify
type: command/shell
methods:
  announce:
    arguments:
      run: echo announced >> marks.log
"""

SIDE = "side-effect.log"


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "r", models={"notify": ANNOUNCE})


def _queue(repo: Path, *args: str) -> dict[str, object]:
    result = cli(repo, "method", "queue", *args, "--json")
    assert result.code == 0, result.text
    data: dict[str, object] = json.loads(result.stdout)
    return data


def _item_path(repo: Path) -> Path:
    (path,) = (repo / "queue").glob("*.yaml")
    return path


def _edit(path: Path, **fields: object) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_held_item_with_a_forged_release_and_no_pin_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=forged")
    path = _item_path(repo)
    _edit(
        path,
        state="held",
        heldJob="mark",
        run="20261124-020000-x-abcdef",
        release={"job": "mark", "by": "mallory", "at": "2026-11-24T02:00:00Z"},
        pin={},
    )
    result = cli(repo, "queue", "execute", "--all")
    assert marks(repo) == []
    assert result.code == 1
    assert "stale: changed since review: models/sh.yaml" in result.stdout


def test_a_failed_item_resumed_after_its_model_changed_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "fail", "--input", "name=first", "--input", "code:json=1")
    assert cli(repo, "queue", "execute", "--all").code == 1
    assert marks(repo) == ["first"]
    model = repo / "models" / "sh.yaml"
    model.write_text(model.read_text().replace("exit ${{ inputs.code }}", "exit 0"))
    result = cli(repo, "queue", "execute", "--item", _item_path(repo).stem[-12:])
    assert result.code == 1
    assert "stale: changed since review: models/sh.yaml" in result.stdout
    assert marks(repo) == ["first"]


def test_a_failed_item_before_its_not_before_waits(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=later")
    path = _item_path(repo)
    _edit(path, state="failed", notBefore="2099-01-01T00:00:00Z")
    # notBefore is a request field: the id still matches, the time rule still holds.
    result = cli(repo, "queue", "execute", "--item", path.stem[-12:])
    assert "waiting: until 2099-01-01T00:00:00Z" in result.stdout
    assert marks(repo) == []


def test_a_planted_journal_never_decides_the_target(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "notify", "announce")
    path = _item_path(repo)
    item_id = path.stem[-12:]
    run = "20261124-020000-notify-abcdef"
    _edit(
        path,
        state="held",
        heldJob="announce",
        run=run,
        release={"job": "announce", "by": "x", "at": "2026-11-24T02:00:00Z"},
    )
    folder = repo / "runs" / run
    folder.mkdir(parents=True)
    event = {
        "seq": 1,
        "at": "2026-11-24T02:00:00Z",
        "type": "run-created",
        "run": run,
        "kind": "method",
        "workflow": "sh.touch",
        "target": "sh.touch",
        "inputs": {"file": SIDE},
        "item": item_id,
        "jobs": ["touch"],
    }
    (folder / "journal.jsonl").write_text(json.dumps(event) + "\n")
    result = cli(repo, "queue", "execute", "--item", item_id)
    assert result.code == 1
    assert "refused: run 20261124-020000-notify-abcdef was not started for this item" in (
        result.stdout
    )
    assert not (repo / SIDE).exists()
    assert marks(repo) == []


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("item", "0123456789ab", "its journal names item '0123456789ab'"),
        ("target", "sh.mark", "its journal names method 'sh.mark', the item 'sh.fail'"),
        ("inputs", {"name": "other", "code": 1}, "its journal's inputs differ from the item's"),
        ("request", "sha256:" + "0" * 64, "its journal does not record this item's request"),
        ("pin", {"models/sh.yaml": "sha256:" + "0" * 64}, "its journal records another pin"),
    ],
)
def test_a_resumed_items_journal_must_record_exactly_its_request(
    tmp_path: Path, field: str, value: object, why: str
) -> None:
    """A failed item resumes its own run; a journal rewritten to say anything
    else of what it runs (a colleague's push can plant one) is refused, with
    what differs, and nothing runs."""
    repo = _repo(tmp_path)
    _queue(repo, "sh", "fail", "--input", "name=first", "--input", "code:json=1")
    assert cli(repo, "queue", "execute", "--all").code == 1
    item = yaml.safe_load(_item_path(repo).read_text())
    journal = repo / "runs" / item["run"] / "journal.jsonl"
    created, *rest = journal.read_text().splitlines()
    event = json.loads(created)
    assert event["type"] == "run-created"
    event[field] = value
    journal.write_text("\n".join([json.dumps(event), *rest]) + "\n")
    result = cli(repo, "queue", "execute", "--item", item["id"])
    assert result.code == 1
    assert f"refused: run {item['run']} was not started for this item ({why}" in result.stdout
    assert marks(repo) == ["first"]


def test_duplicate_keys_alias_bombs_dates_and_huge_numbers_are_skipped_one_line_each(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=good")
    bad = {
        "a-000000000001.yaml": "id: '000000000001'\nkind: method\nmodel: notify\nmodel: sh\n",
        "b-000000000002.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
            for p, c in zip("abcdefg", "bcdefgh", strict=True)
        )
        + "id: '000000000002'\n",
        "c-000000000003.yaml": "id: '000000000003'\nkind: method\nmodel: sh\nmethod: mark\n"
        "inputs: {}\nnotBefore: [2026-01-01]\n",
        "d-000000000004.yaml": "id: '000000000004'\nkind: method\nmodel: sh\nmethod: mark\n"
        f"inputs: {{name: {'9' * 5000}}}\n",
        "e-000000000005.yaml": "- id\n- kind\n",
    }
    for name, text in bad.items():
        (repo / "queue" / name).write_text(text)
    listed = cli(repo, "queue", "list")
    assert listed.code == 0, listed.text
    warnings = [line for line in listed.stderr.splitlines() if "warning" in line]
    assert len(warnings) == len(bad)
    assert "queue/a-000000000001.yaml:4:1: duplicate key 'model'" in listed.stderr
    expected = "queue/c-000000000003.yaml:6:12: notBefore: expected a non-empty string"
    assert f"{expected}, found a list" in listed.stderr
    # An unquoted date is kept as the text the author wrote: listed, never a crash.
    dated = repo / "queue" / f"dated-{identity('method', 'sh.mark', {'name': 'dated'})}.yaml"
    dated.write_text(
        f"id: '{dated.stem[-12:]}'\nkind: method\nmodel: sh\nmethod: mark\n"
        "inputs: {name: dated}\nnotBefore: 2026-01-01\nrequestedBy: x\n"
        "requestedAt: 2026-01-01 00:00:00\npin: {}\n"
    )
    listed = cli(repo, "queue", "list")
    assert listed.code == 0, listed.text
    assert "name=dated  stale" in listed.stdout
    result = cli(repo, "queue", "execute", "--all")
    assert result.code == 1, result.text  # the dated item is stale: never pinned
    assert marks(repo) == ["good"]
    assert max(len(line) for line in result.text.splitlines()) < 400  # long values abridged


def test_paths_from_item_fields_never_leave_the_repository(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=legit")
    legit = _item_path(repo)
    outside = tmp_path / "outside"
    for n, run in enumerate(("../../outside/x", str(outside / "abs"), "a/b")):
        text = legit.read_text().replace("state: queued", f"state: failed\nrun: '{run}'")
        (repo / "queue" / f"copy{n}-{legit.stem[-12:]}.yaml").write_text(text)
    star = legit.read_text().replace(legit.stem[-12:], "'*'")
    (repo / "queue" / "star-x.yaml").write_text(star)
    result = cli(repo, "queue", "execute", "--all")
    assert not outside.exists()
    assert result.stderr.count("expected a run id such as") == 3
    assert "expected 12 lowercase hex digits" in result.stderr
    # Only the legitimate item ran, once, and recorded its own result.
    assert marks(repo) == ["legit"]
    assert [p.name for p in (repo / "done").glob("*.yaml")] == [legit.name]


def test_the_same_id_in_two_files_runs_neither(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=twice")
    legit = _item_path(repo)
    (repo / "queue" / f"again-{legit.stem[-12:]}.yaml").write_text(legit.read_text())
    result = cli(repo, "queue", "execute", "--all")
    assert marks(repo) == []
    assert result.stderr.count("also the id of") == 2


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=real")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    item = _item_path(repo)
    target = elsewhere / item.name
    target.write_text(item.read_text())
    item.unlink()
    item.symlink_to(target)
    (elsewhere / "evil.yaml").write_text(ANNOUNCE.replace("notify", "evil"))
    (repo / "models" / "evil.yaml").symlink_to(elsewhere / "evil.yaml")
    result = cli(repo, "queue", "execute", "--all")
    assert marks(repo) == []
    assert "is a symbolic link; swamp never follows one" in result.text
    validated = cli(repo, "validate")
    assert validated.code == 1
    assert "models/evil.yaml:1:1: is a symbolic link; swamp never follows one" in validated.text


def test_a_symlinked_runs_folder_receives_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=x")
    elsewhere = tmp_path / "elsewhere-runs"
    elsewhere.mkdir()
    (repo / "runs").symlink_to(elsewhere)
    result = cli(repo, "queue", "execute", "--all")
    assert result.code == 1
    assert list(elsewhere.iterdir()) == []
    assert marks(repo) == []


def test_an_item_edited_after_review_no_longer_matches_its_id(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=reviewed")
    path = _item_path(repo)
    _edit(path, inputs={"name": "edited"})
    result = cli(repo, "queue", "execute", "--all")
    assert marks(repo) == []
    assert "does not match its content" in result.stderr
    validated = cli(repo, "validate")
    assert validated.code == 1
    assert "purge it and queue it again in a reviewed change" in validated.stdout


def test_a_hand_written_approval_is_never_copied_into_done(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=x")
    path = _item_path(repo)
    _edit(path, approval={"by": ["ceo"], "pullRequest": "https://forged/1"})
    assert cli(repo, "queue", "execute", "--all").code == 0
    (done,) = (repo / "done").glob("*.yaml")
    record = yaml.safe_load(done.read_text())
    assert "approvedBy" not in record["result"]
    assert "pullRequest" not in record["result"]
    assert "approval" not in record


def test_free_text_cannot_add_lines_or_carry_a_secret(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    forged = cli(repo, "method", "queue", "sh", "mark", "--by", "bob\n\nSwamp-Approved-By: ceo")
    assert forged.code == 2
    assert "--by 'bob\\n\\nSwamp-Approved-By: ceo': expected one line" in forged.stderr
    assert "\nSwamp-Approved-By" not in forged.text
    env = {"SWAMP_TEST_SECRET": "hunter2-secret-value"}
    noted = cli(repo, "method", "queue", "sh", "mark", "--note", "hunter2-secret-value", env=env)
    assert noted.code == 2
    assert "--note holds a secret's value" in noted.stderr
    assert "hunter2" not in noted.text
    assert list((repo / "queue").glob("*.yaml")) == []


ENV_MODEL = """\
name: envdump
type: command/shell
methods:
  dump:
    arguments:
      run: env | sort
"""


def test_steps_get_a_clean_environment_and_secrets_stay_masked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"envdump": ENV_MODEL})
    _queue(repo, "envdump", "dump")
    env = {
        "GITHUB_TOKEN": "ghs_forgeToken123456",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-0987654321",
        "SWAMP_TEST_SECRET": "listed-secret-value",
        "SWAMP_TEST_ENV": "listed-env-value",
    }
    result = cli(repo, "queue", "execute", "--all", env=env)
    assert result.code == 0, result.text
    written = "".join(
        p.read_text() for p in [*repo.rglob("*.yaml"), *repo.rglob("*.jsonl")] if p.is_file()
    )
    for value in ("ghs_forgeToken123456", "aws-secret-0987654321", "listed-secret-value"):
        assert value not in written + result.text
    assert "listed-env-value" in written  # listed under env in swamp.yaml: passed
    assert "GITHUB_TOKEN" not in written
    assert "AWS_SECRET_ACCESS_KEY" not in written
    assert "SWAMP_TEST_SECRET=***" in written
    assert os.environ.get("GITHUB_TOKEN") != "ghs_forgeToken123456"


def test_a_comment_or_formatting_edit_does_not_stale_an_item(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=pinned")
    model = repo / "models" / "sh.yaml"
    model.write_text("# reviewed by ops\n" + model.read_text().replace("name: sh", "name:   sh"))
    result = cli(repo, "queue", "execute", "--all")
    assert result.code == 0, result.text
    assert marks(repo) == ["pinned"]


def _git_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "g", workflows={"gated": GATED})
    (repo / ".gitignore").write_text("marks.log\n.swamp/\n")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "a swamp repository")
    return repo


def _held_gated(tmp_path: Path) -> Path:
    """A git repository whose `gated` item ran and is held before `ship`."""
    repo = _git_repo(tmp_path)
    assert cli(repo, "workflow", "queue", "gated", "--commit").code == 0
    assert cli(repo, "queue", "execute", "--all", "--commit", "--by", "bot").code == 0
    return repo


def _as(name: str, email: str) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def _released(repo: Path) -> list[dict[str, object]]:
    (done,) = (repo / "done").glob("*.yaml")
    record = yaml.safe_load(done.read_text())
    released: list[dict[str, object]] = record["result"]["releasedBy"]
    return released


def test_released_by_names_the_author_of_the_commit_that_staged_the_release(
    tmp_path: Path,
) -> None:
    repo = _held_gated(tmp_path)
    # Mallory stages the release claiming to be the product manager.
    staged = cli(
        repo,
        "workflow",
        "release",
        "ship",
        "--stage",
        "--by",
        "pm",
        "--commit",
        env=_as("Mallory", "mallory@example.com"),
    )
    assert staged.code == 0, staged.text
    commit = git(repo, "rev-parse", "HEAD")
    (row,) = json.loads(cli(repo, "queue", "list", "--json").stdout)
    assert (row["state"], row["detail"]) == ("held", "release of ship staged; runs next")
    result = cli(repo, "queue", "execute", "--all", "--commit", "--by", "bot")
    assert result.code == 0, result.text
    assert marks(repo) == ["built", "shipped"]
    (released,) = _released(repo)
    assert released["job"] == "ship"
    assert released["by"] == "Mallory <mallory@example.com>"
    assert released["commit"] == commit
    journal = next((repo / "runs").glob("*/journal.jsonl")).read_text()
    assert '"by": "pm"' not in journal and '"by":"pm"' not in journal


def test_a_hand_written_release_is_recorded_as_its_committer_not_its_by_field(
    tmp_path: Path,
) -> None:
    repo = _held_gated(tmp_path)
    path = _item_path(repo)
    data = yaml.safe_load(path.read_text())
    _edit(path, release={"job": data["heldJob"], "by": "the-ceo", "at": "2026-11-24T02:00:00Z"})
    git(repo, "add", "-A")
    env = {**os.environ, **_as("Mallory", "mallory@example.com")}
    subprocess.run(["git", "commit", "-qm", "release"], cwd=repo, env=env, check=True)
    assert cli(repo, "queue", "execute", "--all", "--commit", "--by", "bot").code == 0
    (released,) = _released(repo)
    assert released["by"] == "Mallory <mallory@example.com>"


def test_an_uncommitted_release_is_recorded_as_the_runner_that_ran_it(tmp_path: Path) -> None:
    repo = _held_gated(tmp_path)
    assert cli(repo, "workflow", "release", "ship", "--stage", "--by", "pm").code == 0
    result = cli(repo, "queue", "execute", "--all", "--by", "operator")
    assert result.code == 0, result.text
    (released,) = _released(repo)
    assert released["by"] == "operator"
    assert "commit" not in released


def test_a_release_brought_in_by_a_merge_alone_is_refused(tmp_path: Path) -> None:
    """No commit of its own staged it: there is no author to name, so it never runs."""
    repo = _held_gated(tmp_path)
    git(repo, "checkout", "--quiet", "-b", "side")
    (repo / "notes.txt").write_text("unrelated\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "--quiet", "-m", "unrelated")
    git(repo, "checkout", "--quiet", "main")
    git(repo, "merge", "--quiet", "--no-ff", "--no-commit", "side")
    path = _item_path(repo)
    data = yaml.safe_load(path.read_text())
    _edit(path, release={"job": data["heldJob"], "by": "pm", "at": "2026-11-24T02:00:00Z"})
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "merge side")
    result = cli(repo, "queue", "execute", "--all", "--commit", "--by", "bot")
    assert result.code == 1
    assert "no commit on this branch staged the release of item" in result.stdout
    assert marks(repo) == ["built"]
    assert not (repo / "done").exists() or not list((repo / "done").glob("*.yaml"))
    kept = yaml.safe_load(path.read_text())  # nothing lost: still held, release kept
    assert (kept["state"], kept["release"]["by"]) == ("held", "pm")


def _listed_done(repo: Path) -> dict[str, dict[str, object]]:
    result = cli(repo, "queue", "list", "--done", "--json")
    assert result.code == 0, result.text
    return {r["id"]: r for r in json.loads(result.stdout)}


def test_a_planted_done_record_is_listed_unverified_not_succeeded(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "sh", "mark", "--input", "name=real")
    assert cli(repo, "queue", "execute", "--all").code == 0
    (real,) = (repo / "done").glob("*.yaml")
    real_id = real.stem[-12:]
    # A record whose id matches its content, written by hand: no run journal confirms it.
    inputs = {"name": "planted"}
    planted_id = identity("method", "sh.mark", inputs)
    record = yaml.safe_load(real.read_text())
    record.update(id=planted_id, inputs=inputs, requestedBy="mallory")
    (repo / "done" / f"sh-mark-planted-{planted_id}.yaml").write_text(yaml.safe_dump(record))
    # And one that borrows the real record's run, whose journal names another item.
    borrowed = {"name": "borrowed"}
    borrowed_id = identity("method", "sh.mark", borrowed)
    record.update(id=borrowed_id, inputs=borrowed)
    (repo / "done" / f"sh-mark-borrowed-{borrowed_id}.yaml").write_text(yaml.safe_dump(record))
    listed = _listed_done(repo)
    assert listed[real_id]["state"] == "succeeded"
    assert listed[planted_id]["state"] == "unverified"
    assert listed[borrowed_id]["state"] == "unverified"
    assert "its run's journal names item" in str(listed[borrowed_id]["detail"])
    shutil.rmtree(repo / "runs")
    gone = _listed_done(repo)[real_id]
    assert (gone["state"], gone["detail"]) == (
        "unverified",
        f"no journal of run {record['run']} confirms it",
    )


def test_a_result_planted_on_a_side_ref_lands_nothing_but_a_result(tmp_path: Path) -> None:
    """Anyone who may push can write refs/swamp/*, which no branch protection
    covers; `queue recover` (run with the bot's rights) must land only what a
    runner's result for that item can be: never a new item, never another item."""
    origin = make_origin(tmp_path)
    engineer = clone(origin, tmp_path / "engineer")
    assert (
        cli(engineer, "method", "queue", "sh", "mark", "--input", "name=real", "--push").code == 0
    )
    assert (
        cli(engineer, "method", "queue", "sh", "mark", "--input", "name=keep", "--push").code == 0
    )
    real_id = identity("method", "sh.mark", {"name": "real"})
    keep_id = identity("method", "sh.mark", {"name": "keep"})
    # A colleague with push rights (but no review) builds a "result".
    colleague = clone(origin, tmp_path / "colleague")
    assert cli(colleague, "method", "queue", "sh", "mark", "--input", "name=unreviewed").code == 0
    git(colleague, "add", "-A")
    git(colleague, "commit", "--quiet", "-m", "swamp: keep what an interrupted runner left")
    git(colleague, "push", "--quiet", "origin", "HEAD:refs/swamp/results/unpushed-0123456789ab")
    (keep,) = (colleague / "queue").glob(f"*{keep_id}.yaml")
    keep.unlink()
    git(colleague, "add", "-A")
    git(colleague, "commit", "--quiet", "-m", f"swamp: result of item {real_id}: succeeded")
    git(colleague, "push", "--quiet", "origin", f"HEAD:refs/swamp/results/{real_id}")
    main_before = git(origin, "rev-parse", "main")

    runner = clone(origin, tmp_path / "runner")
    result = cli(runner, "queue", "recover")
    assert result.code == 1, result.text
    assert (
        f"refs/swamp/results/{real_id}: refused: it changes queue/sh-mark-keep-{keep_id}.yaml, "
        f"which is not the result of item {real_id}; nothing of it landed"
    ) in result.stderr
    assert (
        "refs/swamp/results/unpushed-0123456789ab: refused: it adds queue/sh-mark-unreviewed-"
    ) in result.stderr
    assert "which no review queued" in result.stderr
    assert git(origin, "rev-parse", "main") == main_before  # nothing landed
    assert git(origin, "for-each-ref", f"refs/swamp/results/{real_id}")  # kept, for a look

    ran = cli(runner, "queue", "execute", "--all", "--commit", "--push")
    assert ran.code == 0, ran.text
    assert sorted(marks(runner)) == ["keep", "real"]  # the planted item never runs


def _mutate_journal(repo: Path) -> None:
    (journal,) = (repo / "runs").glob("*/journal.jsonl")
    lines = journal.read_text().splitlines()
    first = json.loads(lines[0])
    first["item"] = "0123456789ab"
    journal.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")


def _mutate_done_inputs(repo: Path) -> None:
    (done,) = (repo / "done").glob("*.yaml")
    _edit(done, inputs={"name": "something-else"})


def _add_done_elsewhere(repo: Path) -> None:
    (done,) = (repo / "done").glob("*.yaml")
    other = identity("method", "sh.mark", {"name": "never-queued"})
    data = yaml.safe_load(done.read_text())
    data.update(id=other, inputs={"name": "never-queued"})
    (repo / "done" / f"sh-mark-never-queued-{other}.yaml").write_text(yaml.safe_dump(data))


@pytest.mark.parametrize(
    ("mutate", "ref", "why"),
    [
        (None, "real", ""),
        (None, "unpushed", ""),
        (_mutate_journal, "real", "a run of no item it records"),
        (_mutate_done_inputs, "real", "is not a valid item (id"),
        (_add_done_elsewhere, "real", "which is not the result of item"),
        (_add_done_elsewhere, "unpushed", "but origin has no item"),
    ],
)
def test_only_a_runner_s_result_for_a_queued_item_may_land(
    tmp_path: Path, mutate: object, ref: str, why: str
) -> None:
    from swamp.gitrepo import Repo
    from swamp.queue.results import RUNNER_OWNED, not_a_result

    origin = make_origin(tmp_path)
    runner = clone(origin, tmp_path / "runner")
    assert cli(runner, "method", "queue", "sh", "mark", "--input", "name=real", "--push").code == 0
    tip = git(runner, "rev-parse", "HEAD")
    assert cli(runner, "queue", "execute", "--all", "--commit").code == 0  # a real result
    if callable(mutate):
        mutate(runner)
        git(runner, "add", "-A")
        git(runner, "commit", "--quiet", "-m", "tampered")
    sha = git(runner, "rev-parse", "HEAD")
    repo = Repo(runner)
    changes = [(k, p) for k, p in repo.changes(tip, sha) if p.startswith(RUNNER_OWNED)]
    named = identity("method", "sh.mark", {"name": "real"}) if ref == "real" else "unpushed-0a"
    try:
        wrong = not_a_result(repo, runner, tip, sha, changes, named)
    finally:
        repo.close()
    assert (why in wrong) if why else wrong == "", wrong
