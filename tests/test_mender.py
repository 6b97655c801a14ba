"""Mender-style JSON workflows through the real CLI, against a real HTTP
server on 127.0.0.1 that records every request it receives."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from http_recorder import Recorder, Reply, Unanswered, closed_port
from repo_helpers import make_repo, run_ids, show, swamp

from swamp import __version__
from swamp.repo import parsed_digest

SWAMP_YAML = """\
version: 1
env: [MENDER_TEST_REGION]
secrets: [MENDER_TEST_TOKEN]
"""
TOKEN = "tok-8c1e5f0d2b7a"
ENV = {"MENDER_TEST_TOKEN": TOKEN, "MENDER_TEST_REGION": "eu-1"}
AGENT = f"swamp/{__version__}"


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder().start()
    yield recorder
    recorder.stop()


def mender_repo(tmp_path: Path, *workflows: dict[str, Any], **files: dict[str, Any]) -> Path:
    """A repository with the given Mender workflows (named after themselves,
    or after the keyword) as JSON files."""
    repo = make_repo(tmp_path / "r", swamp_yaml=SWAMP_YAML)
    for wf in workflows:
        files[wf["name"]] = wf
    for name, wf in files.items():
        (repo / "workflows" / f"{name}.json").write_text(json.dumps(wf, indent=4))
    return repo


def http_task(name: str, method: str, uri: str, **http: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {
        k: http.pop(k) for k in ("retries", "retryDelaySeconds", "requires") if k in http
    }
    return {"name": name, "type": "http", **extra, "http": {"uri": uri, "method": method, **http}}


def provision(base: str) -> dict[str, Any]:
    """Several tasks: typed JSON, defaults, encodings, env, secrets, requires,
    formdata, a command, and each task reading an earlier one's JSON."""
    return {
        "name": "provision_device",
        "description": "Creates a device in every service.",
        "version": 2,
        "schemaVersion": 1,
        "inputParameters": ["device_id", "request_id", "tenant"],
        "optionalParameters": ["groups", "device", "note", "email"],
        "tasks": [
            http_task(
                "create_device",
                "POST",
                base + "/api/tenants/${workflow.input.tenant}/devices"
                "?tenant=${workflow.input.tenant}&note=${workflow.input.note|none}"
                "&region=${env.MENDER_TEST_REGION}",
                contentType="application/json",
                headers={
                    "X-MEN-RequestID": "${workflow.input.request_id}",
                    "Authorization": "Bearer ${env.MENDER_TEST_TOKEN}",
                },
                json={
                    "id": "${workflow.input.device_id}",
                    "device": "${workflow.input.device}",
                    "groups": "${workflow.input.groups}",
                    "email": "${workflow.input.email}",
                    "label": "device ${workflow.input.device_id} in ${workflow.input.groups}",
                },
                statusCodes=[201],
            ),
            http_task(
                "notify",
                "POST",
                base + "/notify",
                requires=["${workflow.input.device_id}", "${workflow.input.email}"],
                body="new device",
            ),
            http_task(
                "tag",
                "PUT",
                base + "/api/devices/${create_device.json.device.id}/tags/"
                "${create_device.json.tags.[1]}",
                formdata={
                    "owner": "${create_device.json.owner.groups.[0].name}",
                    "note": "${encoding=html;workflow.input.note}",
                },
            ),
            {
                "name": "report",
                "type": "cli",
                "cli": {
                    "command": [
                        sys.executable,
                        "-c",
                        "import json, sys; print(json.dumps({'args': sys.argv[1:]}))",
                        "${tag.json.status}",
                        "${workflow.input.groups}",
                    ]
                },
            },
            http_task(
                "finish",
                "DELETE",
                base
                + "/api/pending/${report.json.args.[0]}?q=${encoding=url;report.json.args.[1]}",
                headers={"X-Seen": "${encoding=html;create_device.json.device.html|none}"},
            ),
        ],
    }


def create_reply() -> Reply:
    return Reply(
        201,
        {
            "device": {"id": "d-1", "html": "<i>"},
            "tags": ["a", "b"],
            "owner": {"groups": [{"name": "ops"}, {"name": "dev"}]},
        },
    )


def test_tasks_run_in_order_with_substitution_chaining_and_requires(
    tmp_path: Path, server: Recorder
) -> None:
    repo = mender_repo(tmp_path, provision(server.url))
    server.on("POST", "/api/tenants/a/b/devices", create_reply())
    server.on("PUT", "/api/devices/d-1/tags/b", Reply(200, {"status": "tagged"}))
    server.on("DELETE", "/api/pending/tagged", Reply(204))
    swamp(repo, "validate")
    result = swamp(
        repo,
        "workflow",
        "run",
        "provision_device",
        "--input",
        "device_id=d-1",
        "--input",
        "request_id=req-1",
        "--input",
        "tenant=a/b",
        "--input",
        'groups:json=["g1", "g2"]',
        "--input",
        'device:json={"model": "rpi4", "ram": 4}',
        "--input",
        "note=<b>",
        env=ENV,
    )
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", "/api/tenants/a/b/devices"),  # inputs in a URI are sent as they are
        ("PUT", "/api/devices/d-1/tags/b"),
        ("DELETE", "/api/pending/tagged"),
    ]
    create, tag, finish = server.requests
    assert create.query == {"tenant": ["a/b"], "note": ["<b>"], "region": ["eu-1"]}
    assert create.own_headers == {
        "user-agent": AGENT,
        "content-type": "application/json",
        "x-men-requestid": "req-1",
        "authorization": f"Bearer {TOKEN}",
    }
    assert create.json == {
        "id": "d-1",
        "device": {"model": "rpi4", "ram": 4},  # a whole input keeps its type
        "groups": ["g1", "g2"],
        "email": None,  # a missing input is null
        "label": "device d-1 in g1,g2",  # a list in a string is joined with commas
    }
    assert tag.query == {}
    assert tag.own_headers == {
        "user-agent": AGENT,
        "content-type": "application/x-www-form-urlencoded",
    }
    assert tag.body == b"note=%26lt%3Bb%26gt%3B&owner=ops"
    assert finish.query == {"q": ["g1,g2"]}
    assert finish.own_headers == {"user-agent": AGENT, "x-seen": "&lt;i&gt;"}
    assert finish.body == b""
    assert "tasks/notify: skipped: requires[1] ${workflow.input.email} is empty" in result.stdout

    run_id = run_ids(repo)[0]
    steps = show(repo, run_id)["jobs"]["tasks"]["steps"]
    assert {k: (s["state"], s["outputs"]["skipped"]) for k, s in steps.items()} == {
        "create_device": ("succeeded", False),
        "notify": ("succeeded", True),  # skipped counts as success
        "tag": ("succeeded", False),
        "report": ("succeeded", False),
        "finish": ("succeeded", False),
    }
    sent = steps["create_device"]["outputs"]["httpRequest"]
    assert sent["method"] == "POST"
    assert sent["uri"] == f"{server.url}/api/tenants/a/b/devices?tenant=a/b&note=<b>&region=eu-1"
    assert sent["headers"]["Authorization"] == "Bearer ***"
    assert json.loads(sent["body"]) == create.json
    assert steps["create_device"]["outputs"]["httpResponse"]["statusCode"] == 201
    assert steps["report"]["outputs"]["cli"] == {
        "command": [*provision("")["tasks"][3]["cli"]["command"][:3], "tagged", "g1,g2"],
        "output": '{"args": ["tagged", "g1,g2"]}\n',
        "error": "",
        "exitCode": 0,
    }
    shown = swamp(repo, "run", "show", run_id, env=ENV).stdout
    journal = (repo / "runs" / run_id / "journal.jsonl").read_text()
    for text in (result.stdout, result.stderr, shown, journal):
        assert TOKEN not in text
    lines = [line.strip() for line in shown.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("step create_device:"))
    assert lines[start + 1 : start + 9] == [
        f"request: POST {sent['uri']}",
        "Authorization: Bearer ***",  # sorted and canonical, as Go's net/http writes them
        "Content-Type: application/json",
        f"User-Agent: {AGENT}",
        "X-Men-Requestid: req-1",
        "body: " + sent["body"],
        "response: 201",
        "body: " + json.dumps(create_reply().body),
    ]
    assert "skipped: requires[1] ${workflow.input.email} is empty" in lines
    assert "exit code: 0" in lines
    assert 'output | {"args": ["tagged", "g1,g2"]}' in lines


def test_inputs_are_checked_before_anything_runs(tmp_path: Path, server: Recorder) -> None:
    repo = mender_repo(tmp_path, provision(server.url))
    missing = swamp(repo, "workflow", "run", "provision_device", "--input", "tenant=t", check=1)
    assert missing.stderr == (
        "swamp: error: workflow provision_device: missing required input 'device_id'; "
        "missing required input 'request_id'\n"
    )
    assert server.requests == []
    assert run_ids(repo) == []
    assert list((repo / "queue").iterdir()) == []


def flaky(base: str) -> dict[str, Any]:
    return {
        "name": "flaky",
        "inputParameters": ["id"],
        "tasks": [
            http_task("lookup", "GET", base + "/devices/${workflow.input.id}"),
            http_task(
                "update",
                "PATCH",
                base + "/devices/${lookup.json.id}",
                json={"seen": "${lookup.json.seen}"},
                retries=2,
                retryDelaySeconds=0,
            ),
            http_task("gone", "GET", base + "/gone", statusCodes=[404]),
            http_task("strict", "GET", base + "/status", statusCodes=[204]),
        ],
    }


def test_failing_status_is_retried_and_status_codes_decide_success(
    tmp_path: Path, server: Recorder
) -> None:
    repo = mender_repo(tmp_path, flaky(server.url))
    server.on("GET", "/devices/7", Reply(200, {"id": "dev-7", "seen": [1, 2]}))
    server.on("PATCH", "/devices/dev-7", Reply(500, "boom"), Reply(503), Reply(200, {}))
    server.on("GET", "/gone", Reply(404, {"error": "not found"}))
    server.on("GET", "/status", Reply(200, {}))
    result = swamp(repo, "workflow", "run", "flaky", "--input", "id=7", check=1)
    run_id = run_ids(repo)[0]
    assert len(server.seen("GET", "/devices/7")) == 1
    # Only a whole input keeps its type; an earlier task's value is text, as in Mender.
    assert [r.json for r in server.seen("PATCH", "/devices/dev-7")] == [{"seen": "[1,2]"}] * 3
    assert len(server.seen("GET", "/gone")) == 1  # 404 is what it expects
    assert len(server.seen("GET", "/status")) == 1
    assert (
        f"tasks/strict: GET {server.url}/status: status 200 (expected 204): {{}}" in result.stdout
    )
    steps = show(repo, run_id)["jobs"]["tasks"]["steps"]
    assert (steps["update"]["state"], steps["update"]["attempts"]) == ("succeeded", 3)
    assert steps["strict"]["state"] == "failed"
    assert steps["strict"]["outputs"]["httpResponse"] == {"statusCode": 200, "body": "{}"}
    # The server is fixed: a resume sends only the task that failed.
    server.on("GET", "/status", Reply(204))
    swamp(repo, "run", "resume", run_id)
    assert [(r.method, r.path) for r in server.requests][-1] == ("GET", "/status")
    assert len(server.requests) == 1 + 3 + 1 + 2
    assert show(repo, run_id)["state"] == "succeeded"


def test_transport_errors_count_as_failed_attempts(tmp_path: Path, server: Recorder) -> None:
    refused = closed_port()
    repo = mender_repo(
        tmp_path,
        {
            "name": "dropped",
            "tasks": [http_task("call", "POST", server.url + "/jobs", body="x", retries=1)],
        },
        {
            "name": "refused",
            "tasks": [
                http_task(
                    "call",
                    "GET",
                    f"http://127.0.0.1:{refused}/x",
                    retries=2,
                    retryDelaySeconds=0,
                )
            ],
        },
    )
    server.on("POST", "/jobs", Reply(drop=True), Reply(200, {"id": 1}))
    swamp(repo, "workflow", "run", "dropped")
    assert [r.body for r in server.seen("POST", "/jobs")] == [b"x", b"x"]
    result = swamp(repo, "workflow", "run", "refused", check=1)
    assert f"tasks/call: GET http://127.0.0.1:{refused}/x: connection refused" in result.stdout
    refused_run = next(r for r in run_ids(repo) if "refused" in r)
    step = show(repo, refused_run)["jobs"]["tasks"]["steps"]["call"]
    assert step["attempts"] == 3
    assert "httpResponse" not in step["outputs"]
    assert step["outputs"]["httpRequest"]["uri"] == f"http://127.0.0.1:{refused}/x"


def test_connect_and_read_timeouts_are_milliseconds_and_retried(
    tmp_path: Path, server: Recorder
) -> None:
    silent = Unanswered()
    try:
        repo = mender_repo(
            tmp_path,
            {
                "name": "slow",
                "tasks": [
                    http_task("wait", "GET", server.url + "/slow", readTimeOut=300, retries=1)
                ],
            },
            {
                "name": "unreachable",
                "tasks": [
                    http_task(
                        "connect",
                        "GET",
                        f"http://127.0.0.1:{silent.port}/",
                        connectionTimeOut=300,
                        readTimeOut=60000,
                    )
                ],
            },
        )
        server.on("GET", "/slow", Reply(200, {}, delay=3))
        slow = swamp(repo, "workflow", "run", "slow", check=1)
        assert f"tasks/wait: GET {server.url}/slow: timed out (read)" in slow.stdout
        assert len(server.seen("GET", "/slow")) == 2
        unreachable = swamp(repo, "workflow", "run", "unreachable", check=1)
        assert (
            f"tasks/connect: GET http://127.0.0.1:{silent.port}/: timed out (connect)"
            in unreachable.stdout
        )
    finally:
        silent.close()


def decommission(base: str) -> dict[str, Any]:
    return {
        "name": "decommission_device",
        "description": "Removes device info from all services.",
        "version": 4,
        "inputParameters": ["device_id", "request_id"],
        "tasks": [
            http_task(
                "delete_inventory",
                "DELETE",
                base + "/inventory/devices/${workflow.input.device_id}",
                headers={"X-MEN-RequestID": "${workflow.input.request_id}"},
            ),
            http_task(
                "delete_auth",
                "DELETE",
                base + "/auth/devices/${workflow.input.device_id}?n=${delete_inventory.json.n}",
                headers={"X-MEN-RequestID": "${workflow.input.request_id}"},
            ),
            http_task(
                "announce",
                "POST",
                base + "/events",
                contentType="application/json",
                json={
                    "device": "${workflow.input.device_id}",
                    "auth": "${delete_auth.json.status|gone}",
                    "removed": "${delete_inventory.json.n}",
                },
            ),
        ],
    }


def _items(repo: Path, folder: str) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((repo / folder).glob("*.yaml"))]


def test_queued_workflow_fails_then_resumes_without_resending(
    tmp_path: Path, server: Recorder
) -> None:
    repo = mender_repo(tmp_path, decommission=decommission(server.url))
    server.on("DELETE", "/inventory/devices/d-9", Reply(200, {"n": 3}))
    server.on("DELETE", "/auth/devices/d-9", Reply(500, {"error": "database down"}))
    server.on("POST", "/events", Reply(201))
    queued = swamp(
        repo,
        "workflow",
        "queue",
        "decommission_device",
        "--input",
        "device_id=d-9",
        "--input",
        "request_id=r-9",
    )
    (item,) = _items(repo, "queue")
    assert queued.stdout.startswith(f"queued {item['id']}: workflow decommission_device")
    raw = (repo / "workflows" / "decommission.json").read_bytes()
    # Pins are digests of the parsed content (issue 10).
    assert item["pin"] == {"workflows/decommission.json": parsed_digest(json.loads(raw))}
    assert server.requests == []  # queueing sends nothing

    swamp(repo, "queue", "execute", "--all", check=1)
    (item,) = _items(repo, "queue")
    assert (item["state"], item["failedStep"]) == ("failed", "tasks/delete_auth")
    swamp(repo, "queue", "execute", "--all")  # a failed item is not re-run by --all
    assert [(r.method, r.path) for r in server.requests] == [
        ("DELETE", "/inventory/devices/d-9"),
        ("DELETE", "/auth/devices/d-9"),
    ]

    server.on("DELETE", "/auth/devices/d-9", Reply(200, {"status": "removed"}))
    swamp(repo, "queue", "execute", "--item", item["id"])
    assert [(r.method, r.path) for r in server.requests] == [
        ("DELETE", "/inventory/devices/d-9"),
        ("DELETE", "/auth/devices/d-9"),
        ("DELETE", "/auth/devices/d-9"),  # only the failed task is sent again
        ("POST", "/events"),
    ]
    auth = server.requests[2]
    assert auth.query == {"n": ["3"]}  # read from the first run's response
    assert auth.own_headers == {"user-agent": AGENT, "x-men-requestid": "r-9"}
    assert server.requests[3].json == {"device": "d-9", "auth": "removed", "removed": "3"}
    assert _items(repo, "queue") == []
    (done,) = _items(repo, "done")
    steps = done["result"]["outputs"]["tasks"]["steps"]
    assert steps["delete_auth"]["outputs"]["httpResponse"] == {
        "statusCode": 200,
        "body": '{"status": "removed"}',
    }
    assert steps["announce"]["outputs"]["httpRequest"]["body"] == (
        '{"auth":"removed","device":"d-9","removed":"3"}'
    )


def test_highest_version_wins_and_the_pin_names_that_file(tmp_path: Path, server: Recorder) -> None:
    def version(n: int) -> dict[str, Any]:
        return {
            "name": "ping",
            "version": n,
            "tasks": [http_task("ping", "GET", f"{server.url}/v{n}")],
        }

    repo = mender_repo(
        tmp_path, **{"ping-a": version(1), "ping-b": version(3), "ping-c": version(2)}
    )
    server.on("GET", "/v3", Reply(200, {}))
    assert swamp(repo, "validate").stdout == "ok: 5 files valid (1 models, 1 workflows)\n"
    swamp(repo, "workflow", "run", "ping")
    assert [r.path for r in server.requests] == ["/v3"]
    swamp(repo, "workflow", "queue", "ping")
    (item,) = _items(repo, "queue")
    assert list(item["pin"]) == ["workflows/ping-b.json"]
    # A higher version added after review is not what was approved: stale.
    (repo / "workflows" / "ping-d.json").write_text(json.dumps(version(4)))
    (listed,) = json.loads(swamp(repo, "queue", "list", "--json").stdout)
    assert listed["state"] == "stale"
    assert "workflows/ping-d.json" in listed["detail"]
    refused = swamp(repo, "queue", "execute", "--all", check=1)
    assert "ping: stale: changed since review: workflows/ping-d.json" in refused.stdout
    assert [r.path for r in server.requests] == ["/v3"]


def test_graph_shows_each_task(tmp_path: Path) -> None:
    repo = mender_repo(tmp_path, decommission("http://127.0.0.1:9"))
    assert swamp(repo, "workflow", "graph", "decommission_device").stdout.splitlines() == [
        "workflow decommission_device: Removes device info from all services.",
        "  job tasks",
        "    step delete_inventory: mender/http DELETE "
        "http://127.0.0.1:9/inventory/devices/${workflow.input.device_id}",
        "    step delete_auth: mender/http DELETE http://127.0.0.1:9/auth/devices/"
        "${workflow.input.device_id}?n=${delete_inventory.json.n}",
        "    step announce: mender/http POST http://127.0.0.1:9/events",
    ]


def test_cli_tasks_capture_output_exit_code_and_time_out(tmp_path: Path) -> None:
    script = "import sys, time; print('out', sys.argv[1]); sys.stderr.write('bad\\n'); "
    repo = mender_repo(
        tmp_path,
        {
            "name": "commands",
            "inputParameters": ["code"],
            "tasks": [
                {
                    "name": "fail",
                    "type": "cli",
                    "retries": 1,
                    "cli": {
                        "command": [
                            sys.executable,
                            "-c",
                            script + "sys.exit(int(sys.argv[1]))",
                            "${workflow.input.code}",
                        ]
                    },
                }
            ],
        },
        {
            "name": "sleeper",
            "tasks": [
                {
                    "name": "sleep",
                    "type": "cli",
                    "cli": {
                        "command": [sys.executable, "-c", "import time; time.sleep(30)"],
                        "executionTimeOut": 1,
                    },
                }
            ],
        },
    )
    result = swamp(repo, "workflow", "run", "commands", "--input", "code=3", check=1)
    assert "tasks/fail: command exited with code 3: bad" in result.stdout
    failed = next(r for r in run_ids(repo) if "commands" in r)
    step = show(repo, failed)["jobs"]["tasks"]["steps"]["fail"]
    assert step["attempts"] == 2
    assert step["outputs"]["cli"]["output"] == "out 3\n"
    assert step["outputs"]["cli"]["error"] == "bad\n"
    assert step["outputs"]["cli"]["exitCode"] == 3
    shown = [line.strip() for line in swamp(repo, "run", "show", failed).stdout.splitlines()]
    assert shown[-4:] == [
        f"command: {sys.executable} -c {script}sys.exit(int(sys.argv[1])) 3",
        "exit code: 3",
        "output | out 3",
        "error | bad",
    ]
    slow = swamp(repo, "workflow", "run", "sleeper", check=1)
    assert "tasks/sleep: timed out after 1s" in slow.stdout


def test_a_swamp_workflow_can_call_a_mender_workflow(tmp_path: Path, server: Recorder) -> None:
    repo = mender_repo(tmp_path, decommission=decommission(server.url))
    (repo / "workflows" / "retire.yaml").write_text(
        "name: retire\n"
        "jobs:\n"
        "  fleet:\n"
        "    forEach: {items: [d-1, d-2]}\n"
        "    steps:\n"
        "      - name: decommission\n"
        "        workflow: decommission_device\n"
        '        inputs: {device_id: "${{ item }}", request_id: retire}\n'
    )
    server.on("DELETE", "/inventory/devices/d-1", Reply(200, {"n": 1}))
    server.on("DELETE", "/inventory/devices/d-2", Reply(200, {"n": 2}))
    server.on("DELETE", "/auth/devices/d-1", Reply(204))
    server.on("DELETE", "/auth/devices/d-2", Reply(204))
    server.on("POST", "/events", Reply(201))
    swamp(repo, "workflow", "queue", "retire")
    (item,) = _items(repo, "queue")
    assert sorted(item["pin"]) == ["workflows/decommission.json", "workflows/retire.yaml"]
    swamp(repo, "queue", "execute", "--all")
    assert [r.json for r in server.seen("POST", "/events")] == [
        {"device": "d-1", "auth": "gone", "removed": "1"},
        {"device": "d-2", "auth": "gone", "removed": "2"},
    ]
