"""The queue through the real CLI, on small repositories made for each test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from repo_helpers import BROKEN, DEPLOY, GATED, make_repo, marks, run_ids, swamp, wait_for

WORKFLOWS = {"deploy": DEPLOY, "gated": GATED, "broken": BROKEN}

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


def _list(repo: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(swamp(repo, "queue", "list", "--json").stdout)
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
    table = swamp(repo, "queue", "list").stdout.splitlines()
    assert " stale " in table[1]
    assert table[2].strip() == "└ changed since review: workflows/deploy.yaml"
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


def test_many_executors_at_once_run_each_item_exactly_once(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    n = 18
    # Staging is not what races here (in-process); the executors are (processes).
    for i in range(n):
        assert swamp(repo, "method", "queue", "sh", "mark", "--input", f"name=i{i}").returncode == 0
    base = [sys.executable, "-m", "swamp", "--repo", str(repo), "queue", "execute", "--all"]
    commands = [base, [*base, "--concurrency", "3"], [*base, "--concurrency", "2"]]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    # Each side effect happened exactly once...
    assert sorted(marks(repo)) == sorted(f"i{i}" for i in range(n))
    # ...each item was reported succeeded by exactly one executor...
    succeeded = [line for out, _ in outputs for line in out.splitlines() if ": succeeded" in line]
    assert len(succeeded) == n
    assert len({line.split()[0] for line in succeeded}) == n
    # ...and no result was lost: one done/ file per item, each with its own run.
    assert _items(repo) == []
    done = _items(repo, "done")
    assert len(done) == n
    assert not list((repo / "done").glob("*-2.yaml"))
    runs_ = {d["result"]["run"] for d in done}  # type: ignore[index]
    assert len(runs_) == n
    assert runs_ == set(run_ids(repo))


def test_empty_queue_is_friendly(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert swamp(repo, "queue", "list").stdout.startswith("the queue is empty")
    assert _list(repo) == []


# A model whose steps wait for the test to let them go: no timing in tests.
GATE = """\
name: gate
type: command/shell
inputs:
  properties:
    name: {type: string}
    count: {type: integer}
methods:
  wait:
    description: mark, then wait until the file OPEN exists (at most a minute)
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        i=0
        while [ ! -e OPEN ]; do i=$((i+1)); [ $i -lt 1200 ] || exit 1; sleep 0.05; done
  meet:
    description: arrive, wait until `count` have arrived (at most a minute), then mark
    arguments:
      run: |
        mkdir -p arrived && touch arrived/${{ inputs.name }}
        i=0
        while [ "$(ls arrived | wc -l)" -lt ${{ inputs.count }} ]; do
          i=$((i+1)); [ $i -lt 1200 ] || exit 1; sleep 0.05
        done
        echo ${{ inputs.name }} >> marks.log
"""

TWO_STEPS = """\
name: two
jobs:
  j:
    steps:
      - {name: first, model: gate, method: wait, inputs: {name: first}}
      - {name: second, model: sh, method: mark, inputs: {name: second}}
"""


def _gate_repo(tmp_path: Path, swamp_yaml: str = WINDOWS) -> Path:
    return make_repo(tmp_path / "r", {**WORKFLOWS, "two": TWO_STEPS}, {"gate": GATE}, swamp_yaml)


def _start(repo: Path, *args: str) -> subprocess.Popen[str]:
    from repo_helpers import start_swamp

    return start_swamp(repo, *args)


def _rows(repo: Path) -> dict[str, dict[str, object]]:
    return {str(r["id"]): r for r in _list(repo)}


def test_execute_concurrency_runs_items_side_by_side(tmp_path: Path) -> None:
    repo = _gate_repo(tmp_path)
    for name in ("a", "b", "c"):
        swamp(
            repo,
            "method",
            "queue",
            "gate",
            "meet",
            "--input",
            f"name={name}",
            "--input",
            "count:json=3",
        )
    # Each item waits until all three have arrived: one at a time, none
    # could finish (they would fail after a minute).
    result = swamp(repo, "queue", "execute", "--all", "--concurrency", "3")
    assert result.stdout.splitlines()[-1] == "ran 3 of 3 selected: 3 succeeded"
    assert sorted(marks(repo)) == ["a", "b", "c"]
    assert len(_items(repo, "done")) == 3
    # Progress lines say which item they belong to.
    ids = [str(d["id"]) for d in _items(repo, "done")]
    for item_id in ids:
        assert f"] {item_id} gate.meet: step meet/meet: ok" in result.stderr


def test_window_open_and_closed_through_real_cron(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    opened = now - timedelta(minutes=1)  # opened a minute ago, for an hour
    later = (now + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Kolkata"))
    gone = (now - timedelta(hours=2)).astimezone(ZoneInfo("America/New_York"))
    swamp_yaml = f"""\
version: 1
windows:
  open-now:
    cron: "{opened.minute} {opened.hour} * * *"
    duration: 1h
  opens-later:
    cron: "{later.minute} {later.hour} * * *"
    duration: 30m
    timezone: Asia/Kolkata
  closed-again:
    cron: "{gone.minute} {gone.hour} * * *"
    duration: 1h
    timezone: America/New_York
"""
    repo = _gate_repo(tmp_path, swamp_yaml)
    for window in ("open-now", "opens-later", "closed-again"):
        swamp(
            repo, "method", "queue", "sh", "mark", "--input", f"name={window}", "--window", window
        )

    def iso(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    states = {str(r["inputs"]["name"]): (r["state"], r["detail"]) for r in _list(repo)}
    assert states == {
        "open-now": ("queued", ""),
        "opens-later": ("waiting", f"window opens-later opens at {iso(later)}"),
        "closed-again": (
            "waiting",
            f"window closed-again opens at {iso(gone + timedelta(days=1))}",
        ),
    }
    result = swamp(repo, "queue", "execute", "--all")
    assert result.stdout.splitlines()[-1] == "ran 1 of 3 selected: 1 succeeded, 2 waiting"
    assert marks(repo) == ["open-now"]


def test_freeze_pauses_a_queued_run_at_the_next_step_boundary(tmp_path: Path) -> None:
    repo = _gate_repo(tmp_path)
    swamp(repo, "workflow", "queue", "two")
    (item,) = _items(repo)
    proc = _start(repo, "queue", "execute", "--all")
    wait_for(lambda: "first" in marks(repo), what="the first step")
    swamp(repo, "freeze", "--reason", "incident 7", "--by", "erin")
    (repo / "OPEN").touch()  # the step in flight ends; the next must not start
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"{item['id']} two: paused: paused: the repository is frozen" in out
    assert marks(repo) == ["first"]
    assert _rows(repo)[str(item["id"])]["state"] == "paused"
    refused = swamp(repo, "queue", "execute", "--all", check=1)
    assert "queue execute refused: the repository is frozen by erin since " in refused.stderr
    swamp(repo, "unfreeze")
    skipped = swamp(repo, "queue", "execute", "--all")  # paused needs a person
    assert "ran 0 of 1 selected: 1 skipped" in skipped.stdout
    swamp(repo, "queue", "execute", "--item", str(item["id"]))
    assert marks(repo) == ["first", "second"]  # `first` did not run again
    assert _items(repo) == []


def test_purge_refuses_a_running_item(tmp_path: Path) -> None:
    repo = _gate_repo(tmp_path)
    swamp(repo, "method", "queue", "gate", "wait", "--input", "name=slow")
    (item,) = _items(repo)
    proc = _start(repo, "queue", "execute", "--all")
    try:
        wait_for(lambda: "slow" in marks(repo), what="the item to start")
        row = _rows(repo)[str(item["id"])]
        run = row["run"]
        assert (row["state"], row["detail"]) == ("running", f"run {run}")
        result = swamp(repo, "queue", "purge", "--all", check=1)
        assert result.stdout.splitlines() == [
            f"{item['id']} gate.wait: refused: running (run {run}); "
            f"stop it with `swamp run stop {run}` first",
            "purged 0 of 1 selected, 1 refused",
        ]
        assert len(_items(repo)) == 1
    finally:
        (repo / "OPEN").touch()
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert len(_items(repo, "done")) == 1


def test_purge_refuses_an_item_a_runner_elsewhere_holds_until_its_claim_lapses(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "method", "queue", "sh", "mark", "--input", "name=x")
    (path,) = (repo / "queue").glob("*.yaml")
    data = yaml.safe_load(path.read_text())
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    claim = {"by": "ci", "host": "elsewhere", "checkout": "/ci/repo", "at": now, "run": "r1"}
    path.write_text(yaml.safe_dump({**data, "state": "running", "run": "r1", "claim": claim}))
    refused = swamp(repo, "queue", "purge", "--all", check=1)
    assert (
        f"refused: claimed by ci at {now} (run r1); purge it where it runs, or once that "
        f"runner is gone take it over with `swamp queue execute --item {data['id']} --reclaim`"
    ) in refused.stdout
    assert path.exists()

    claim["at"] = "2020-01-01T00:00:00Z"  # silent for longer than claimTimeout
    path.write_text(yaml.safe_dump({**data, "state": "running", "run": "r1", "claim": claim}))
    assert "purged 1 of 1 selected" in swamp(repo, "queue", "purge", "--all").stdout
    assert not path.exists()


def test_an_interrupted_item_is_resumed_by_id_or_purged(tmp_path: Path) -> None:
    import os
    import signal

    repo = _gate_repo(tmp_path)
    swamp(repo, "method", "queue", "gate", "wait", "--input", "name=x")
    swamp(repo, "method", "queue", "gate", "wait", "--input", "name=y")
    first, second = (str(i["id"]) for i in _items(repo))
    for n, item_id in enumerate((first, second), start=1):
        proc = _start(repo, "queue", "execute", "--item", item_id)
        wait_for(lambda n=n: len(marks(repo)) == n, what="a step")
        os.killpg(proc.pid, signal.SIGKILL)  # the runner dies mid-step
        proc.communicate()
    rows = _rows(repo)
    assert {rows[i]["state"] for i in (first, second)} == {"interrupted"}
    assert str(rows[first]["detail"]).endswith(
        f"no runner holds it (resume with: swamp queue execute --item {first})"
    )
    skipped = swamp(repo, "queue", "execute", "--all")  # never by accident
    assert "ran 0 of 2 selected: 2 skipped" in skipped.stdout
    (repo / "OPEN").touch()
    refused = swamp(repo, "queue", "execute", "--item", first, check=1)
    assert "wait/wait is unknown (it was in flight when swamp died" in refused.stdout
    assert sorted(marks(repo)) == ["x", "y"]  # not run again silently
    swamp(repo, "queue", "execute", "--item", first, "--rerun-unknown")
    assert sorted(marks(repo)) == ["x", "x", "y"]  # the step in flight ran again
    purged = swamp(repo, "queue", "purge", "--item", second)
    run = rows[second]["run"]
    assert purged.stdout.splitlines()[0] == f"{second} gate.wait: purged (run {run} cancelled)"
    assert _items(repo) == []
    states = {r["run"]: r["state"] for r in json.loads(swamp(repo, "run", "list", "--json").stdout)}
    assert states[run] == "cancelled"
    assert states[rows[first]["run"]] == "succeeded"


def test_execute_sums_up_and_fails_when_an_item_failed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds")
    swamp(repo, "workflow", "queue", "deploy")
    swamp(repo, "workflow", "queue", "broken")
    swamp(repo, "workflow", "queue", "gated")
    swamp(repo, "method", "queue", "sh", "mark", "--input", "name=later", "--not-before", future)
    result = swamp(repo, "queue", "execute", "--all", check=1)
    assert result.stdout.splitlines()[-1] == (
        "ran 3 of 4 selected: 1 succeeded, 1 failed, 1 held, 1 waiting"
    )
    data = json.loads(swamp(repo, "queue", "execute", "--all", "--json").stdout)
    assert data["summary"] == {"waiting": 1, "skipped": 2}
    assert {i["outcome"] for i in data["items"]} == {"waiting", "skipped"}


def test_the_same_invocation_is_refused_while_held_or_failed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    swamp(repo, "workflow", "queue", "gated")
    swamp(repo, "workflow", "queue", "broken")
    swamp(repo, "queue", "execute", "--all", check=1)
    for name, state_ in (("gated", "held"), ("broken", "failed")):
        again = swamp(repo, "workflow", "queue", name, check=1)
        (item,) = (i for i in _items(repo) if i["workflow"] == name)
        assert again.stderr.startswith(
            f"swamp: error: this workflow is already queued as {item['id']} "
            f"(queue/{name}-{item['id']}.yaml, {state_})"
        )


def test_every_reporting_command_speaks_json(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    commands = [
        ["validate", "--json"],
        ["method", "queue", "sh", "mark", "--input", "name=q", "--json"],
        ["method", "schedule", "sh", "mark", "--input", "name=s", "--at", at, "--json"],
        ["workflow", "queue", "gated", "--json"],
        ["queue", "list", "--json"],
        ["queue", "execute", "--all", "--json"],
        ["queue", "purge", "--all", "--dry-run", "--json"],
        ["method", "run", "sh", "echo", "--input", "value=v", "--json"],
        ["workflow", "run", "deploy", "--json"],
        ["workflow", "release", "ship", "--by", "carol", "--json"],
        ["run", "list", "--json"],
        ["freeze", "--reason", "r", "--json"],
        ["unfreeze", "--json"],
    ]
    for args in commands:
        result = swamp(repo, *args)
        json.loads(result.stdout)  # the whole of stdout is one JSON document
    held = json.loads(swamp(repo, "workflow", "run", "gated", "--json").stdout)
    assert held["state"] == "held"
    run_id = held["run"]
    assert json.loads(swamp(repo, "run", "show", run_id, "--json").stdout)["id"] == run_id
    stopped = json.loads(swamp(repo, "run", "stop", run_id, "--json").stdout)
    assert stopped == {"run": run_id, "state": "stopped"}


def test_done_file_records_the_result_with_secrets_masked(tmp_path: Path) -> None:
    leak = """\
name: leak
type: command/shell
methods:
  print:
    arguments:
      run: echo "token=${{ secrets.SWAMP_TEST_SECRET }}"
"""
    broken = make_repo(tmp_path / "b", WORKFLOWS, {"leak": leak}, WINDOWS)
    refused = swamp(broken, "method", "queue", "leak", "print", check=1)
    assert refused.stderr == (  # swamp.yaml of that repository allows no secret
        "models/leak.yaml:6:24: methods.print.arguments.run: ${{ secrets.SWAMP_TEST_SECRET }}: "
        "secrets.SWAMP_TEST_SECRET is not allowed (list SWAMP_TEST_SECRET under secrets in "
        "swamp.yaml)\n"
        "swamp: error: 1 problem(s) in the definitions; nothing was run\n"
    )
    repo = make_repo(tmp_path / "r", WORKFLOWS, {"leak": leak})
    swamp(repo, "method", "queue", "leak", "print", "--by", "bob")
    env = {"SWAMP_TEST_SECRET": "hunter2-very-secret", "GITHUB_ACTOR": "carol"}
    result = swamp(repo, "queue", "execute", "--all", env=env)
    (done,) = _items(repo, "done")
    text = next((repo / "done").glob("*.yaml")).read_text()
    for shown in (text, result.stdout, result.stderr):
        assert "hunter2-very-secret" not in shown
    res = done["result"]
    assert res["outputs"]["token"] == "***"  # type: ignore[index]
    assert (done["requestedBy"], res["executedBy"], res["status"]) == ("bob", "carol", "succeeded")  # type: ignore[index]
    assert res["run"] in run_ids(repo)  # type: ignore[index]
    assert res["startedAt"] <= res["endedAt"]  # type: ignore[index]
    assert res["host"]  # type: ignore[index]


def test_a_time_without_an_offset_is_utc_wherever_swamp_runs(tmp_path: Path) -> None:
    """--not-before without an offset used to mean the machine's local time,
    while a stored time without one meant UTC: one rule now, UTC."""
    repo = _repo(tmp_path)
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        swamp(
            repo,
            "method",
            "queue",
            "sh",
            "mark",
            "--input",
            "name=a",
            "--not-before",
            "2099-01-01T02:00:00",
        )
        swamp(
            repo,
            "method",
            "queue",
            "sh",
            "mark",
            "--input",
            "name=b",
            "--not-before",
            "2099-01-01T02:00:00Z",
        )
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
    assert [item["notBefore"] for item in _items(repo)] == ["2099-01-01T02:00:00Z"] * 2
    listed = swamp(repo, "run", "list", "--since", "2099-01-01T02:00:00", check=None)
    assert listed.returncode == 0, listed.stderr


def test_schedule_takes_exactly_one_of_at_and_window(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    for extra in ([], ["--at", "+1h", "--window", "always"]):
        result = swamp(repo, "method", "schedule", "sh", "mark", *extra, check=2)
        assert result.stderr == "swamp: error: give exactly one of --at TIME or --window NAME\n"
    assert _items(repo) == []


def test_an_item_marked_cancelled_is_never_executed(tmp_path: Path) -> None:
    """Issue 12: an item with `state: cancelled` fell through `decide` to a start."""
    repo = _repo(tmp_path)
    swamp(repo, "method", "queue", "sh", "mark", "--input", "name=a")
    (path,) = (repo / "queue").glob("*.yaml")
    data = yaml.safe_load(path.read_text())
    data["state"] = "cancelled"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    for args in (("--all",), ("--item", str(data["id"]))):
        out = json.loads(swamp(repo, "queue", "execute", *args, "--json").stdout)
        assert [i["outcome"] for i in out["items"]] == ["cancelled"]
        assert marks(repo) == []
    assert yaml.safe_load(path.read_text())["state"] == "cancelled"
    (listed,) = _list(repo)
    assert listed["state"] == "cancelled"
