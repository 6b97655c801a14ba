"""`swamp serve --pull`: runners in a private network that pull a bare
origin, execute what is due with the claims and pushes of `queue execute
--push`, split the queue by shard and respect the freeze."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from git_helpers import clone, git, log, make_origin
from repo_helpers import DEPLOY, marks, wait_for
from serve_helpers import AUTH, running_server

from swamp.errors import SwampError
from swamp.serve.pull import ensure_checkout, tick

SWAMP_YAML = """\
version: 1
serve:
  allowStart: [deploy]
"""


def cli(repo: Path, *args: str) -> None:
    from typer.testing import CliRunner

    from swamp.cli import app

    result = CliRunner().invoke(app, ["--repo", str(repo), *args])
    assert result.exit_code == 0, result.output


def stage(dev: Path, *envs: str) -> None:
    for env in envs:
        cli(dev, "workflow", "queue", "deploy", "--input", f"env={env}", "--push")


def done_on_origin(origin: Path) -> list[str]:
    out = git(origin, "ls-tree", "--name-only", "main", "done/")
    return [line for line in out.splitlines() if line]


def test_sharded_pull_runners_execute_each_item_once_and_push(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, workflows={"deploy": DEPLOY}, swamp_yaml=SWAMP_YAML)
    dev = clone(origin, tmp_path / "dev")
    stage(dev, "a", "b", "c", "d")
    runners = [tmp_path / "runner1", tmp_path / "runner2"]
    for r in runners:
        ensure_checkout(r, str(origin))
        ensure_checkout(r, str(origin))  # a second start keeps the clone
    assert tick(runners[0], "1/2", 1) == 0
    assert tick(runners[1], "2/2", 1) == 0
    ran = marks(runners[0]) + marks(runners[1])
    assert sorted(ran) == [f"deploy-{e}" for e in "abcd"]
    assert marks(runners[0]) and marks(runners[1])  # both shards had work
    assert len(done_on_origin(origin)) == 4
    subjects = log(origin, "main")
    assert any(s.startswith("swamp: claim") for s in subjects)  # claimed before running
    # Nothing is due any more: a tick changes nothing.
    assert tick(runners[0], "1/2", 1) == 0
    assert sorted(marks(runners[0]) + marks(runners[1])) == sorted(ran)


def test_a_pull_runner_watches_the_freeze(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, workflows={"deploy": DEPLOY}, swamp_yaml=SWAMP_YAML)
    dev = clone(origin, tmp_path / "dev")
    runner = tmp_path / "runner"
    ensure_checkout(runner, str(origin))
    cli(dev, "freeze", "--reason", "incident 7", "--push")
    stage(dev, "x")
    with pytest.raises(SwampError, match=r"queue execute refused: .*incident 7"):
        tick(runner, None, 1)
    assert marks(runner) == []
    cli(dev, "unfreeze", "--push")
    assert tick(runner, None, 1) == 0
    assert marks(runner) == ["deploy-x"]


def test_a_checkout_of_another_remote_is_refused(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, workflows={"deploy": DEPLOY}, swamp_yaml=SWAMP_YAML)
    other = clone(origin, tmp_path / "other")
    with pytest.raises(SwampError, match=r"is a clone of .*, not of /elsewhere"):
        ensure_checkout(other, "/elsewhere")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(SwampError, match="is not empty and not a git clone"):
        ensure_checkout(tmp_path / "full", str(origin))


def test_a_pulling_server_takes_changes_through_git_only(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, workflows={"deploy": DEPLOY}, swamp_yaml=SWAMP_YAML)
    runner = tmp_path / "runner"
    ensure_checkout(runner, str(origin))
    with running_server(runner, pull=str(origin)) as srv, httpx.Client(base_url=srv.url) as c:
        r = c.post("/api/v1/workflows/deploy/runs", json={}, headers=AUTH)
        assert r.status_code == 409
        assert r.json()["error"].startswith(f"this server pulls {origin}: start runs through git")
        assert c.get("/api/v1/queue").status_code == 200


def test_serve_pull_as_a_process_executes_what_is_pushed_then_drains(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, workflows={"deploy": DEPLOY}, swamp_yaml=SWAMP_YAML)
    dev = clone(origin, tmp_path / "dev")
    runner = tmp_path / "runner"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "swamp", "--repo", str(runner), "serve"),
            *("--bind", "127.0.0.1:0", "--pull", str(origin), "--interval", "0.5s"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        assert "listening on http://127.0.0.1:" in proc.stdout.readline()
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # the access log
        stage(dev, "pulled")
        wait_for(lambda: len(done_on_origin(origin)) == 1, timeout=60, what="the pushed result")
        assert marks(runner) == ["deploy-pulled"]
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
