"""`swamp serve` as a process, where the process boundary is the point:
kill -9 under load then a restart completes every accepted run exactly
once; SIGTERM drains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from repo_helpers import events, make_repo, marks, wait_for

TOKEN = "load-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SWAMP_YAML = """\
version: 1
serve:
  allowStart: [work, waits]
"""
WORK = """\
name: work
inputs:
  properties:
    name: {type: string}
jobs:
  go:
    steps:
      # Both may run again after a kill (an append, a sleep): said so, the
      # restart continues them (a step without it waits for an operator).
      - name: mark
        idempotent: true
        model: sh
        method: mark
        inputs: {name: "${{ inputs.name }}"}
      - name: rest
        idempotent: true
        model: sh
        method: sleep
        inputs: {name: "${{ inputs.name }}-rested", seconds: 0.3}
"""
WAITS = """\
name: waits
jobs:
  go:
    steps:
      - {name: wait, model: gate, method: wait}
"""
GATE = """\
name: gate
type: command/shell
methods:
  wait:
    idempotent: true
    arguments:
      run: while [ ! -e GO ]; do sleep 0.05; done; echo waited >> marks.log
"""


LOGS: list[str] = []  # everything every server of this module printed


@contextmanager
def serving(root: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swamp",
            "--repo",
            str(root),
            "serve",
            "--bind",
            "127.0.0.1:0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SWAMP_SERVE_TOKENS": f"loader:{TOKEN}"},
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = ""
        while "listening on" not in line:  # uvicorn may log first
            line = proc.stdout.readline()
            assert line, "the server ended before it listened"
        url = line.split("listening on ")[1].split()[0]
        # Keep reading its log (the access log), or the pipe fills and the server waits.
        out = proc.stdout
        threading.Thread(target=lambda: LOGS.append(out.read()), daemon=True).start()
        yield proc, url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


def run_state(url: str, run: str) -> str:
    state: str = httpx.get(f"{url}/api/v1/runs/{run}", timeout=10).json()["displayState"]
    return state


def test_kill_9_under_load_then_a_restart_completes_every_accepted_run_once(
    tmp_path: Path,
) -> None:
    root = make_repo(tmp_path / "r", workflows={"work": WORK}, swamp_yaml=SWAMP_YAML)
    accepted: list[tuple[str, str]] = []
    lock = threading.Lock()
    with serving(root, "--workers", "3") as (proc, url):

        def load(worker: int) -> None:
            with httpx.Client(base_url=url, timeout=10) as client:
                for i in range(40):
                    name = f"w{worker}-{i}"
                    try:
                        r = client.post(
                            "/api/v1/workflows/work/runs",
                            json={"inputs": {"name": name}},
                            headers=AUTH,
                        )
                    except httpx.HTTPError:
                        return  # the server is gone
                    assert r.status_code == 201, r.text
                    with lock:
                        accepted.append((r.json()["run"], name))

        threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        wait_for(lambda: len(accepted) >= 25, what="25 accepted runs")
        wait_for(lambda: len(marks(root)) >= 3, what="some steps to have run")
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9, mid-load
        proc.wait(10)
        for t in threads:
            t.join(30)
    unfinished = [
        r for r, _ in accepted if "succeeded" not in {e.get("state") for e in events(root, r)}
    ]
    assert unfinished, "the kill came after every run had finished; the test proves nothing"
    with serving(root, "--workers", "3") as (_, url):
        for run, _ in accepted:
            wait_for(lambda r=run: run_state(url, r) == "succeeded", timeout=120, what=run)
    seen = marks(root)
    for run, name in accepted:
        journal = events(root, run)
        ends = [e for e in journal if e["type"] == "run-state" and e["state"] == "succeeded"]
        assert len(ends) == 1, run  # finished once
        started = [e for e in journal if e["type"] == "step-started" and e["step"] == "mark"]
        # A step runs again only if the kill cut it off before it was journaled as done.
        assert 1 <= seen.count(name) <= len(started), (name, seen.count(name), len(started))
        assert seen.count(f"{name}-rested") >= 1
    # Every run journaled as accepted finished once (some were accepted but the
    # kill cut off their answer); a run journaled without it never ran.
    journaled = {p.name: events(root, p.name) for p in (root / "runs").iterdir()}
    taken = {r for r, j in journaled.items() if any(e["type"] == "serve-accepted" for e in j)}
    assert {r for r, _ in accepted} <= taken
    for run, journal in journaled.items():
        ends = [e for e in journal if e["type"] == "run-state" and e["state"] == "succeeded"]
        assert len(ends) == (1 if run in taken else 0), run
    assert len({n for n in seen if not n.endswith("-rested")}) == len(taken)


def test_sigterm_drains_stops_after_the_grace_and_the_next_start_continues(
    tmp_path: Path,
) -> None:
    root = make_repo(
        tmp_path / "r", workflows={"waits": WAITS}, models={"gate": GATE}, swamp_yaml=SWAMP_YAML
    )
    LOGS.clear()
    with serving(root, "--grace", "1") as (proc, url):
        r = httpx.post(f"{url}/api/v1/workflows/waits/runs", headers=AUTH, timeout=10)
        run = r.json()["run"]
        wait_for(lambda: run_state(url, run) == "running", what="the run to start")
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
    journal = events(root, run)
    assert [e["type"] for e in journal if e["type"].startswith("serve-")] == [
        "serve-accepted",
        "serve-drained",
    ]
    assert [e["state"] for e in journal if e["type"] == "run-state"][-1] == "stopped"
    (root / "GO").write_text("")
    with serving(root) as (_, url):
        wait_for(lambda: run_state(url, run) == "succeeded", what="the drained run to finish")
    assert marks(root) == ["waited"]
    wait_for(lambda: len(LOGS) >= 2, what="the servers' logs")
    text = "".join(LOGS)
    assert "POST /api/v1/workflows/waits/runs" in text  # the access log is there
    assert TOKEN not in text  # and the token is not
