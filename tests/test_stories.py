"""The operator stories of the queue issue, typed exactly as written there,
against a copy of the example repository at the project root.

Each story starts from an empty queue; the example's models act on files
under example-state/, which is what the assertions look at.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from repo_helpers import invoke

ROOT = Path(__file__).resolve().parent.parent


def example_repo(tmp_path: Path, *, with_queue: bool = False) -> Path:
    repo = tmp_path / "ops"
    repo.mkdir()
    shutil.copy(ROOT / "swamp.yaml", repo / "swamp.yaml")
    for folder in ("models", "workflows"):
        shutil.copytree(ROOT / folder, repo / folder)
    if with_queue:
        shutil.copytree(ROOT / "queue", repo / "queue")
    else:
        (repo / "queue").mkdir()
    return repo


def type_(repo: Path, line: str, *, check: int = 0) -> subprocess.CompletedProcess[str]:
    """Type one command line in the repository, as an operator would."""
    args = shlex.split(line)
    assert args[0] == "swamp"
    # GITHUB_ACTOR: who requests, releases and executes.
    result = invoke(*args[1:], cwd=repo, env={"GITHUB_ACTOR": "alice"}, unset=("SWAMP_REPO",))
    assert result.returncode == check, (
        f"{line}: exit {result.returncode}, expected {check}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    return result


def state(repo: Path) -> dict[str, str]:
    """Every file under example-state/, with its content."""
    base = repo / "example-state"
    if not base.is_dir():
        return {}
    return {
        p.relative_to(base).as_posix(): p.read_text()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def listed(repo: Path) -> list[tuple[str, str]]:
    rows = json.loads(type_(repo, "swamp queue list --json").stdout)
    return [(r["target"], r["state"]) for r in rows]


def files(repo: Path, folder: str) -> dict[str, dict[str, Any]]:
    base = repo / folder
    if not base.is_dir():
        return {}
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(base.glob("*.yaml"))}


def queued_id(result: subprocess.CompletedProcess[str]) -> str:
    m = re.match(r"queued ([0-9a-f]{12}): ", result.stdout)
    assert m, result.stdout
    return m.group(1)


def test_maintenance_window(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    type_(repo, "swamp workflow queue db-migration")
    type_(repo, "swamp workflow queue app-deployment")
    table = type_(repo, "swamp queue list").stdout.splitlines()
    assert table[0].split() == ["ID", "KIND", "TARGET", "INPUTS", "STATE", "REQUESTED"]
    assert sorted(line.split()[2] for line in table[1:3]) == ["app-deployment", "db-migration"]
    assert all(" queued " in line and " alice " in line for line in table[1:3])
    assert table[3] == "2 items: 2 queued"
    assert state(repo) == {}  # staged, reviewed, nothing done yet

    result = type_(repo, "swamp queue execute --all")
    assert result.stdout.splitlines()[-1] == "ran 2 of 2 selected: 2 succeeded"
    after = state(repo)
    assert after["db/version"] == "42\n"
    assert {k: v for k, v in after.items() if k.startswith("app/")} == {
        f"app/prod/web-{i}": "2.4.0\n" for i in (1, 2, 3, 4)
    }
    assert files(repo, "queue") == {}
    done = files(repo, "done")
    assert sorted(d["workflow"] for d in done.values()) == ["app-deployment", "db-migration"]
    for item in done.values():
        result_ = item["result"]
        assert (item["state"], result_["status"], result_["executedBy"]) == (
            "succeeded",
            "succeeded",
            "alice",
        )
        assert (repo / "runs" / result_["run"] / "journal.jsonl").is_file()
    migration = next(d for d in done.values() if d["workflow"] == "db-migration")
    assert migration["result"]["outputs"]["announce"]["steps"]["done"]["outputs"] == {
        "announced": "schema now at version 42"
    }
    assert type_(repo, "swamp queue list").stdout.startswith("the queue is empty")


ONBOARDING = (
    "swamp method queue ad-account create --input user=jsmith",
    "swamp method queue github-org add-member --input user=jsmith --input org=acme",
    "swamp method queue slack create-account --input user=jsmith",
    "swamp method queue vpn add-to-group --input user=jsmith --input group=engineering",
)


def test_onboarding_on_monday_morning(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    for line in ONBOARDING:
        type_(repo, line)
    assert sorted(listed(repo)) == [
        ("ad-account.create", "queued"),
        ("github-org.add-member", "queued"),
        ("slack.create-account", "queued"),
        ("vpn.add-to-group", "queued"),
    ]
    result = type_(repo, "swamp queue execute --all")
    assert result.stdout.splitlines()[-1] == "ran 4 of 4 selected: 4 succeeded"
    after = state(repo)
    assert after["ad/jsmith"].startswith("created ")
    assert {k: v for k, v in after.items() if k != "ad/jsmith"} == {
        "github/acme": "jsmith\n",
        "slack/jsmith": "active\n",
        "vpn/engineering": "jsmith\n",
    }
    assert files(repo, "queue") == {}
    assert len(files(repo, "done")) == 4


def test_onboarding_purged_when_the_start_date_slips(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    for line in ONBOARDING:
        type_(repo, line)
    type_(repo, "swamp queue list")
    result = type_(repo, "swamp queue purge --all")
    assert result.stdout.count(": purged") == 4
    assert result.stdout.splitlines()[-1] == "purged 4 of 4 selected"
    assert listed(repo) == []
    assert state(repo) == {}
    assert files(repo, "done") == {}
    assert not (repo / "runs").exists()  # nothing ran, nothing to cancel


def test_decommissioning_selectively(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    for wf in ("teardown-compute", "teardown-networking", "teardown-dns"):
        type_(repo, f"swamp workflow queue {wf}")
    assert sorted(listed(repo)) == [
        ("teardown-compute", "queued"),
        ("teardown-dns", "queued"),
        ("teardown-networking", "queued"),
    ]
    type_(repo, "swamp queue execute --workflow teardown-compute")
    assert list(state(repo)) == ["infra/legacy/compute"]
    assert sorted(listed(repo)) == [("teardown-dns", "queued"), ("teardown-networking", "queued")]
    # verify it's clean...
    type_(repo, "swamp queue execute --workflow teardown-networking")
    assert list(state(repo)) == ["infra/legacy/compute", "infra/legacy/networking"]
    # ...and DNS is not ready after all.
    result = type_(repo, "swamp queue purge --workflow teardown-dns")
    assert re.fullmatch(r"[0-9a-f]{12} teardown-dns: purged", result.stdout.splitlines()[0])
    assert listed(repo) == []
    assert list(state(repo)) == ["infra/legacy/compute", "infra/legacy/networking"]
    assert sorted(d["workflow"] for d in files(repo, "done").values()) == [
        "teardown-compute",
        "teardown-networking",
    ]


def test_nobody_tears_down_networking_while_compute_is_live(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    for wf in ("teardown-compute", "teardown-networking"):
        type_(repo, f"swamp workflow queue {wf}")
    result = type_(repo, "swamp queue execute --workflow teardown-networking", check=1)
    assert "teardown-networking: failed: job teardown failed: precheck compute-gone failed" in (
        result.stdout
    )
    assert state(repo) == {}
    rows = json.loads(type_(repo, "swamp queue list --json").stdout)
    failed = next(r for r in rows if r["target"] == "teardown-networking")
    assert failed["state"] == "failed"
    assert failed["detail"] == (
        "step teardown/precheck:compute-gone; "
        f"resume with: swamp queue execute --item {failed['id']}"
    )


BLUE_GREEN = (
    "swamp workflow run deploy-green",
    "swamp workflow run smoke-tests --input env=green",
    "swamp method queue load-balancer swap --input target=green",
)


def _deploy_and_test_green(repo: Path) -> None:
    deployed = type_(repo, BLUE_GREEN[0]).stdout
    assert "deploy/host[0]: deployed=2.5.0" in deployed
    assert state(repo) == {"app/green/green-1": "2.5.0\n", "app/green/green-2": "2.5.0\n"}
    assert "smoke/answer: hosts=2" in type_(repo, BLUE_GREEN[1]).stdout
    type_(repo, BLUE_GREEN[2])
    assert listed(repo) == [("load-balancer.swap", "queued")]
    assert "lb/live" not in state(repo)  # traffic still goes to blue


def test_blue_green_swap_released_after_the_pm_looked(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    _deploy_and_test_green(repo)
    result = type_(repo, "swamp queue execute --method swap")
    assert result.stdout.splitlines()[-1] == "ran 1 of 1 selected: 1 succeeded"
    assert state(repo)["lb/live"] == "green\n"
    (done,) = files(repo, "done").values()
    assert done["result"]["outputs"]["live"] == "green"
    assert done["result"]["outputs"]["previous"] == "none"


def test_blue_green_swap_purged_and_green_torn_down(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    _deploy_and_test_green(repo)
    result = type_(repo, "swamp queue purge --method swap")
    assert result.stdout.splitlines()[-1] == "purged 1 of 1 selected"
    type_(repo, "swamp workflow run teardown-green")
    assert state(repo) == {}  # green is gone, and traffic never moved
    assert listed(repo) == []


def test_hold_inside_a_workflow(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    result = type_(repo, "swamp workflow run binary-release")
    (run_id,) = (p.name for p in (repo / "runs").iterdir())
    assert result.stdout.splitlines() == [
        "job ship-binary is on hold: Ship binary-v1.0.0?",
        f"  release it with: swamp workflow release ship-binary --run {run_id}",
    ]
    assert state(repo) == {"builds/binary-v1.0.0": "built\n"}

    released = type_(repo, "swamp workflow release ship-binary")
    assert released.stdout.splitlines()[:2] == [
        f"released job ship-binary of run {run_id}",
        f"run {run_id} succeeded",
    ]
    assert state(repo)["releases/binary-v1.0.0"].startswith("released ")
    shown = json.loads(type_(repo, f"swamp run show {run_id} --json").stdout)
    assert (shown["state"], shown["jobs"]["ship-binary"]["released_by"]) == ("succeeded", "alice")


def test_scheduled_release_waits_for_its_time(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    at = at.replace("+00:00", "Z")
    result = type_(repo, f"swamp method schedule binary release --input version=v1.0.0 --at {at}")
    assert f"  waiting: until {at}" in result.stdout.splitlines()
    rows = json.loads(type_(repo, "swamp queue list --json").stdout)
    assert [(r["target"], r["state"], r["detail"]) for r in rows] == [
        ("binary.release", "waiting", f"until {at}")
    ]
    early = type_(repo, "swamp queue execute --all")
    assert early.stdout.splitlines()[-1] == "ran 0 of 1 selected: 1 waiting"
    assert state(repo) == {}
    # An hour later (the clock moved by rewriting the stored time, which is
    # not part of the reviewed pin), the first execute after runs it.
    (path,) = (repo / "queue").glob("*.yaml")
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    path.write_text(path.read_text().replace(at, past.replace("+00:00", "Z")))
    result = type_(repo, "swamp queue execute --all")
    assert result.stdout.splitlines()[-1] == "ran 1 of 1 selected: 1 succeeded"
    assert list(state(repo)) == ["releases/binary-v1.0.0"]
    assert listed(repo) == []


def test_scheduled_a_few_seconds_ahead_runs_once_its_time_has_come(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    result = type_(repo, "swamp method schedule binary release --input version=v1.0.0 --at +2s")
    (item,) = files(repo, "queue").values()
    due = datetime.fromisoformat(item["notBefore"].replace("Z", "+00:00"))
    assert f"  waiting: until {item['notBefore']}" in result.stdout.splitlines()
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.05)
    result = type_(repo, "swamp queue execute --all")
    assert result.stdout.splitlines()[-1] == "ran 1 of 1 selected: 1 succeeded"
    (done,) = files(repo, "done").values()
    assert datetime.fromisoformat(done["result"]["startedAt"].replace("Z", "+00:00")) >= due


def test_same_method_twice_needs_other_inputs(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    binary = queued_id(type_(repo, "swamp method queue binary build --input app=binary"))
    docker = queued_id(type_(repo, "swamp method queue binary build --input app=docker"))
    assert binary != docker
    assert sorted(files(repo, "queue")) == sorted(
        [f"binary-build-binary-v1-0-0-{binary}.yaml", f"binary-build-docker-v1-0-0-{docker}.yaml"]
    )
    again = type_(repo, "swamp method queue binary build --input app=binary", check=1)
    assert again.stderr == (
        f"swamp: error: this method is already queued as {binary} "
        f"(queue/binary-build-binary-v1-0-0-{binary}.yaml, queued); the same invocation "
        "can be queued once — purge it first to queue it again\n"
    )
    assert len(files(repo, "queue")) == 2
    type_(repo, "swamp queue execute --all")
    assert state(repo) == {"builds/binary-v1.0.0": "built\n", "builds/docker-v1.0.0": "built\n"}


def test_the_committed_example_queue_is_valid_and_not_stale(tmp_path: Path) -> None:
    repo = example_repo(tmp_path, with_queue=True)
    assert type_(repo, "swamp validate").stdout.startswith("ok: ")
    rows = json.loads(type_(repo, "swamp queue list --json").stdout)
    assert len(rows) == len(list((ROOT / "queue").glob("*.yaml")))
    assert {r["state"] for r in rows} <= {"queued", "waiting"}, rows


def test_the_pin_covers_nested_workflows_and_their_models(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    type_(repo, "swamp workflow queue blue-green")
    (item,) = files(repo, "queue").values()
    assert sorted(item["pin"]) == [
        "models/app.yaml",
        "models/load-balancer.yaml",
        "workflows/blue-green.yaml",
        "workflows/deploy-green.yaml",
        "workflows/smoke-tests.yaml",
    ]
    # A change to a nested workflow nobody reviewed makes the item stale.
    nested = repo / "workflows" / "smoke-tests.yaml"
    nested.write_text(nested.read_text().replace("every host", "each host"))
    rows = json.loads(type_(repo, "swamp queue list --json").stdout)
    assert [(r["state"], r["detail"]) for r in rows] == [
        ("stale", "changed since review: workflows/smoke-tests.yaml")
    ]
    refused = type_(repo, "swamp queue execute --all", check=1)
    assert refused.stdout.splitlines()[-1] == "ran 0 of 1 selected: 1 stale"
    assert state(repo) == {}
