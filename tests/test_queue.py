"""The queue through the real CLI, on small repositories made for each test."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from repo_helpers import make_repo, marks, run_ids, swamp

WORKFLOWS = {
    "deploy": """\
name: deploy
inputs:
  properties:
    env: {type: string, default: staging}
jobs:
  go:
    steps:
      - {name: ship, model: sh, method: mark, inputs: {name: "deploy-${{ inputs.env }}"}}
""",
    "gated": """\
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
""",
    "broken": """\
name: broken
jobs:
  go:
    steps:
      - {name: first, model: sh, method: mark, inputs: {name: first}}
      - {name: check, model: sh, method: exists, inputs: {file: FIXED}}
      - {name: last, model: sh, method: mark, inputs: {name: last}}
""",
}

WINDOWS = """\
version: 1
windows:
  always:
    cron: "* * * * *"
    duration: 2m
  never-now:
    cron: "0 0 1 1 *"
    duration: 1m
"""


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "r", WORKFLOWS, swamp_yaml=WINDOWS)


def _items(repo: Path, folder: str = "queue") -> list[dict[str, object]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((repo / folder).glob("*.yaml"))]


def _list(repo: Path) -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(swamp(repo, "queue", "list", "--json").stdout)
    return data


def test_queue_writes_a_pinned_file_and_refuses_a_duplicate(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    out = swamp(repo, "method", "queue", "sh", "mark", "--input", "name=a", "--by", "alice").stdout
    (item,) = _items(repo)
    assert out.startswith(
        f"queued {item['id']}: method sh.mark -> queue/sh-mark-a-{item['id']}.yaml"
    )
    assert item["requestedBy"] == "alice"
    assert item["inputs"] == {"name": "a"}
    assert list(item["pin"]) == ["models/sh.yaml"]  # type: ignore[call-overload]
    again = swamp(repo, "method", "queue", "sh", "mark", "--input", "name=a", check=1)
    assert again.stderr.startswith(
        f"swamp: error: this method is already queued as {item['id']} "
        f"(queue/sh-mark-a-{item['id']}.yaml, queued)"
    )
    swamp(repo, "method", "queue", "sh", "mark", "--input", "name=b")
    assert len(_items(repo)) == 2  # different inputs, a second item
    assert marks(repo) == []  # queueing runs nothing


def test_queue_validates_before_writing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = swamp(repo, "method", "queue", "sh", "mark", "--input", "nme=a", check=1)
    assert "unknown input 'nme'" in result.stderr
    assert "Traceback" not in result.stderr
    result = swamp(repo, "workflow", "queue", "nope", check=1)
    assert result.stderr.startswith("swamp: error: unknown workflow 'nope' (known: ")
    result = swamp(repo, "workflow", "queue", "deploy", "--window", "weekly", check=1)
    assert "unknown window 'weekly' (known: always, never-now)" in result.stderr
    assert _items(repo) == []


def test_list_shows_states_and_execute_all_runs_what_is_due(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds")
    swamp(repo, "workflow", "queue", "deploy", "--input", "env=prod")
    swamp(repo, "method", "queue", "sh", "mark", "--input", "name=later", "--not-before", future)
    swamp(repo, "method", "schedule", "sh", "mark", "--input", "name=win", "--window", "never-now")
    swamp(repo, "method", "schedule", "sh", "mark", "--input", "name=open", "--window", "always")
    states = {r["target"] + str(r["inputs"]): r["state"] for r in _list(repo)}
    assert sorted(states.values()) == ["queued", "queued", "waiting", "waiting"]
    table = swamp(repo, "queue", "list").stdout
    assert "4 items: " in table
    result = swamp(repo, "queue", "execute", "--all")
    assert sorted(marks(repo)) == ["deploy-prod", "open"]
    assert "ran 2 of 4 selected" in result.stdout
    done = _items(repo, "done")
    assert {d["result"]["status"] for d in done} == {"succeeded"}  # type: ignore[index]
    assert len(_items(repo)) == 2  # the waiting ones stay
    deploy = next(d for d in done if d["kind"] == "workflow")
    result_ = deploy["result"]
    assert result_["outputs"]["go"]["steps"]["ship"]["outputs"]["marked"] == "deploy-prod"  # type: ignore[index]
    assert result_["run"] in run_ids(repo)  # type: ignore[index]


def test_held_item_stays_until_released_and_is_never_rerun_by_all(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "workflow", "queue", "gated")
    result = swamp(repo, "queue", "execute", "--all")
    assert "held: release with: swamp workflow release ship --run" in result.stdout
    (item,) = _items(repo)
    assert (item["state"], item["heldJob"]) == ("held", "ship")
    swamp(repo, "queue", "execute", "--all")
    assert marks(repo) == ["built"]  # not re-run
    swamp(repo, "workflow", "release", "ship", "--by", "carol")
    assert marks(repo) == ["built", "shipped"]
    assert _items(repo) == []
    (done,) = _items(repo, "done")
    assert done["result"]["releasedBy"][0]["by"] == "carol"  # type: ignore[index]


def test_failed_item_is_resumed_only_by_an_explicit_item(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "workflow", "queue", "broken")
    result = swamp(repo, "queue", "execute", "--all", check=1)
    (item,) = _items(repo)
    assert (item["state"], item["failedStep"]) == ("failed", "go/check")
    assert "failed" in result.stdout
    swamp(repo, "queue", "execute", "--all")  # skipped, exit 0
    assert marks(repo) == ["first"]
    (repo / "FIXED").touch()
    swamp(repo, "queue", "execute", "--item", str(item["id"]))
    assert marks(repo) == ["first", "last"]  # `first` did not run again
    assert _items(repo) == []


def test_stale_item_is_refused_naming_the_changed_file(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "workflow", "queue", "deploy")
    wf = repo / "workflows" / "deploy.yaml"
    wf.write_text(wf.read_text().replace("deploy-", "deploy-v2-"))
    assert [r["state"] for r in _list(repo)] == ["stale"]
    result = swamp(repo, "queue", "execute", "--all", check=1)
    assert "stale: changed since review: workflows/deploy.yaml" in result.stdout
    assert marks(repo) == []


def test_expired_item_is_marked_and_not_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "method", "queue", "sh", "mark", "--input", "name=x", "--not-after", "+1s")
    (item,) = _items(repo)
    path = next((repo / "queue").glob("*.yaml"))
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
    path.write_text(path.read_text().replace(str(item["notAfter"]), past.replace("+00:00", "Z")))
    swamp(repo, "queue", "execute", "--all")
    assert marks(repo) == []
    assert _items(repo)[0]["state"] == "expired"


def test_selectors_and_purge(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "workflow", "queue", "deploy")
    swamp(repo, "method", "queue", "sh", "mark", "--input", "name=m1")
    swamp(repo, "method", "queue", "sh", "echo", "--input", "value=v")
    swamp(repo, "queue", "execute", "--method", "mark")
    assert marks(repo) == ["m1"]
    assert swamp(repo, "queue", "purge", "--methods", "--dry-run").stdout.count("would-purge") == 1
    swamp(repo, "queue", "purge", "--method", "sh.echo")
    assert [i["kind"] for i in _items(repo)] == ["workflow"]
    usage = swamp(repo, "queue", "execute", check=2)
    assert "exactly one of --all" in usage.stderr
    swamp(repo, "queue", "execute", "--workflows", "--dry-run")
    assert marks(repo) == ["m1"]


def test_purging_a_held_item_cancels_its_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "workflow", "queue", "gated")
    swamp(repo, "queue", "execute", "--all")
    result = swamp(repo, "queue", "purge", "--all")
    assert "purged" in result.stdout and "cancelled" in result.stdout
    assert _items(repo) == []
    runs = json.loads(swamp(repo, "run", "list", "--json").stdout)
    assert [r["state"] for r in runs] == ["cancelled"]


def test_freeze_refuses_execution_until_unfrozen(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "workflow", "queue", "deploy")
    swamp(repo, "freeze", "--reason", "incident 42", "--by", "dave")
    result = swamp(repo, "queue", "execute", "--all", check=1)
    assert "the repository is frozen by dave since " in result.stderr
    assert ": incident 42 (lift it with `swamp unfreeze`)" in result.stderr
    swamp(repo, "workflow", "run", "deploy", check=1)
    swamp(repo, "unfreeze")
    swamp(repo, "queue", "execute", "--all")
    assert marks(repo) == ["deploy-staging"]


def test_freeze_pauses_a_running_run_at_the_next_step(tmp_path: Path) -> None:
    wf = """\
name: slow
jobs:
  j:
    steps:
      - {name: a, model: sh, method: sleep, inputs: {name: a, seconds: 1}}
      - {name: b, model: sh, method: mark, inputs: {name: b}}
"""
    repo = make_repo(tmp_path / "r", {"slow": wf})
    proc = subprocess.Popen(
        [sys.executable, "-m", "swamp", "--repo", str(repo), "workflow", "run", "slow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    from repo_helpers import wait_for

    wait_for(lambda: "a" in marks(repo), what="step a")
    swamp(repo, "freeze", "--reason", "stop the line")
    out, _ = proc.communicate(timeout=60)
    assert "paused" in out
    assert marks(repo) == ["a"]


def test_two_executors_at_once_run_each_item_exactly_once(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    for i in range(12):
        swamp(repo, "method", "queue", "sh", "mark", "--input", f"name=i{i}")
    cmd = [sys.executable, "-m", "swamp", "--repo", str(repo), "queue", "execute", "--all"]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    assert sorted(marks(repo)) == sorted(f"i{i}" for i in range(12))
    assert _items(repo) == []
    assert len(_items(repo, "done")) == 12


def test_empty_queue_is_friendly(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert swamp(repo, "queue", "list").stdout.startswith("the queue is empty")
    assert _list(repo) == []
