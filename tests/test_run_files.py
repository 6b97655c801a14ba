"""Damaged run files, a full disk, a read-only folder: one clear line naming
the file and the way out, exit 1, and every other run still usable.

In-process through the real CLI (typer's runner)."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from repo_helpers import BROKEN, DEPLOY, make_repo, marks, run_ids
from typer.testing import CliRunner

from swamp.cli import app
from swamp.engine import control


def cli(repo: Path, *args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["--repo", str(repo), *args])
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result.stdout, result.stderr


STEPS = """\
name: steps
jobs:
  j:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
      - {name: b, model: sh, method: mark, inputs: {name: b}}
      - {name: c, model: sh, method: mark, inputs: {name: c}}
"""


def _two_runs(tmp_path: Path) -> tuple[Path, str, str]:
    repo = make_repo(tmp_path / "r", {"steps": STEPS, "deploy": DEPLOY})
    cli(repo, "workflow", "run", "steps")
    cli(repo, "workflow", "run", "deploy")
    first, second = sorted(run_ids(repo), key=lambda r: "deploy" in r)
    return repo, first, second


def _assert_refused_everywhere(repo: Path, broken: str, other: str, where: str) -> None:
    for args in (("run", "show", broken), ("run", "resume", broken)):
        _, err = cli(repo, *args, code=1)
        assert err == (
            f"swamp: error: {repo}/runs/{broken}/journal.jsonl{where}; the run cannot be read "
            f"or continued (look at it, or remove it with `swamp run delete {broken}`)\n"
        ), args
    out, err = cli(repo, "run", "list", "--json")
    states = {r["run"]: r["state"] for r in json.loads(out)}
    assert states == {broken: "corrupt", other: "succeeded"}
    assert err.startswith(f"warning: {repo}/runs/{broken}/journal.jsonl")
    cli(repo, "run", "show", other)
    cli(repo, "run", "delete", broken)
    assert run_ids(repo) == [other]


def test_a_corrupt_line_in_the_middle_of_a_journal(tmp_path: Path) -> None:
    repo, broken, other = _two_runs(tmp_path)
    journal = repo / "runs" / broken / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    lines[3] = '{"seq": 4, "type": "step-fini\n'
    journal.write_text("".join(lines))
    (repo / "runs" / broken / "snapshot.json").unlink()
    _assert_refused_everywhere(repo, broken, other, ":4: not a JSON event")


def test_a_mis_shaped_event_in_a_journal(tmp_path: Path) -> None:
    repo, broken, other = _two_runs(tmp_path)
    journal = repo / "runs" / broken / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    lines[2] = '{"seq": 3, "type": "step-started", "step": "a"}\n'  # no job
    journal.write_text("".join(lines))
    (repo / "runs" / broken / "snapshot.json").unlink()
    _assert_refused_everywhere(repo, broken, other, ":3: a step-started event without 'job'")


def test_an_unknown_state_in_a_journal(tmp_path: Path) -> None:
    repo, broken, other = _two_runs(tmp_path)
    journal = repo / "runs" / broken / "journal.jsonl"
    journal.write_text(journal.read_text().replace('"state":"succeeded"', '"state":"exploded"', 1))
    (repo / "runs" / broken / "snapshot.json").unlink()
    where = ":5: a step-finished event with a wrong value ('exploded' is not a valid StepStatus)"
    _assert_refused_everywhere(repo, broken, other, where)


def test_a_garbage_journal(tmp_path: Path) -> None:
    repo, broken, other = _two_runs(tmp_path)
    (repo / "runs" / broken / "journal.jsonl").write_bytes(b"\xff\xfe garbage\n[1, 2]\n")
    (repo / "runs" / broken / "snapshot.json").unlink()
    _assert_refused_everywhere(repo, broken, other, ":1: not a JSON event")


def test_a_mis_shaped_snapshot_is_rebuilt_from_the_journal(tmp_path: Path) -> None:
    repo, run, _ = _two_runs(tmp_path)
    (repo / "runs" / run / "snapshot.json").write_text('["not", "a", "snapshot"]')
    out, _ = cli(repo, "run", "show", run, "--json")
    assert json.loads(out)["state"] == "succeeded"


def test_a_journal_edited_under_its_snapshot_is_what_swamp_reads(tmp_path: Path) -> None:
    """The journal is the source of truth, the snapshot a cache of its fold:
    an edit to the events a snapshot covers (well-formed, so nothing reads as
    damaged) makes the snapshot stale, and swamp reads the journal."""
    repo, run, _ = _two_runs(tmp_path)
    journal = repo / "runs" / run / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    created = json.loads(lines[0])
    created["by"] = "someone else"
    lines[0] = json.dumps(created) + "\n"
    journal.write_text("".join(lines))
    out, _ = cli(repo, "run", "show", run, "--json")
    assert json.loads(out)["by"] == "someone else"


def test_a_journal_cut_shorter_than_its_snapshot_reruns_nothing(tmp_path: Path) -> None:
    repo, run, _ = _two_runs(tmp_path)
    journal = repo / "runs" / run / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:4]))  # a: started, finished; b, c: gone
    n = len(lines)
    _, err = cli(repo, "run", "resume", run, code=1)
    assert err == (
        f"swamp: error: {journal}: ends at event 4, but snapshot.json records events up to "
        f"{n} (the journal was cut); the run cannot be read or continued (look at it, or "
        f"remove it with `swamp run delete {run}`)\n"
    )
    assert marks(repo) == ["a", "b", "c", "deploy-staging"]  # nothing ran again


def test_a_torn_line_is_cut_only_by_the_runs_owner(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"broken": BROKEN})
    cli(repo, "workflow", "run", "broken", code=1)
    (run,) = run_ids(repo)
    folder = repo / "runs" / run
    journal = folder / "journal.jsonl"
    lock = control.RunLock(folder)
    lock.acquire(run)  # another process executes it, and is mid-write
    try:
        with journal.open("a") as f:
            f.write('{"seq": 99, "type": "step-fin')
        before = journal.read_bytes()
        _, err = cli(repo, "run", "resume", run, code=1)
        assert "is being executed by" in err
        assert journal.read_bytes() == before  # not cut under its owner's feet
    finally:
        lock.release()


def test_the_done_handover_is_idempotent_after_a_kill_between_its_writes(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "r", {"deploy": DEPLOY})
    cli(repo, "workflow", "queue", "deploy")
    (item,) = (repo / "queue").glob("*.yaml")
    cli(repo, "queue", "execute", "--item", item.stem.rsplit("-", 1)[-1])
    (done,) = (repo / "done").glob("*.yaml")
    # What a kill between writing done/ and removing queue/ leaves: the item
    # still in queue/, as it was while its run went on.
    import yaml

    data = yaml.safe_load(done.read_text())
    run = data["result"]["run"]
    data.pop("result")
    claim = {"by": "me", "host": socket.gethostname(), "checkout": str(repo), "run": run}
    data.update(state="running", run=run, claim={**claim, "at": data["requestedAt"]})
    item.write_text(yaml.safe_dump(data))
    out, _ = cli(repo, "queue", "execute", "--item", data["id"])
    assert "result recorded" in out
    assert [p.name for p in (repo / "done").glob("*.yaml")] == [done.name]  # one record
    assert list((repo / "queue").glob("*.yaml")) == []
    assert marks(repo) == ["deploy-staging"]


@contextlib.contextmanager
def _small_disk(folder: Path, size: str) -> Iterator[None]:
    """A real, tiny file system at `folder` (needs root to mount)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _limited(limit: int) -> None:
    """A file-size limit: writes past it fail with EFBIG, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    big = "\n".join(
        f"      - {{name: s{i}, model: sh, method: echo, inputs: {{value: {'x' * 2000}}}}}"
        for i in range(40)
    )
    repo = make_repo(tmp_path / "r", {"big": f"name: big\njobs:\n  j:\n    steps:\n{big}\n"})
    args = [sys.executable, "-m", "swamp", "--repo", str(repo), "workflow", "run", "big"]
    if os.geteuid() == 0:  # a real full disk: a tmpfs of 64 KiB under runs/
        with _small_disk(repo / "runs", "64k"):
            result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    else:  # without root, a file-size limit fails the writes a real way too
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            preexec_fn=lambda: _limited(65536),
        )
    assert result.returncode == 1, result
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"swamp: error: {repo}/runs/"), last
    assert "journal.jsonl: " in last and "stopped there" in last
    assert "Traceback" not in result.stderr and "please report it" not in result.stderr


@pytest.mark.parametrize("folder", ["runs", "queue"])
def test_a_read_only_folder_is_one_clear_line_and_exit_1(tmp_path: Path, folder: str) -> None:
    repo = make_repo(tmp_path / "r", {"deploy": DEPLOY})
    args = ("workflow", "queue" if folder == "queue" else "run", "deploy")
    target = repo / folder
    target.mkdir(exist_ok=True)
    if os.geteuid() == 0:  # root ignores permissions: a read-only mount is real
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(target)], check=True)
    else:
        target.chmod(0o555)
    try:
        _, err = cli(repo, *args, code=1)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(target)], check=False)
        else:
            target.chmod(0o755)
    assert err.startswith(f"swamp: error: {target}"), err
    assert "Read-only file system" in err or "Permission denied" in err


def test_folders_are_fsynced_after_entries_are_created_renamed_or_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: a power cut could bring back a removed file or lose a new
    one, because no folder was ever fsynced. Every folder whose entries a run
    or a queue handover changes is fsynced (os.fsync on the folder itself)."""
    repo = make_repo(tmp_path / "r", {"steps": STEPS})
    synced: list[Path] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        link = Path(f"/proc/self/fd/{fd}")
        if link.is_dir():
            synced.append(link.readlink())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    cli(repo, "workflow", "run", "steps")
    (run,) = run_ids(repo)
    assert {repo / "runs", repo / "runs" / run} <= set(synced)  # the run's folder, its files

    synced.clear()
    cli(repo, "method", "queue", "sh", "mark", "--input", "name=q")
    assert repo / "queue" in synced  # the new item file
    synced.clear()
    cli(repo, "queue", "execute", "--all")
    assert {repo / "queue", repo / "done"} <= set(synced)  # the handover: a move
