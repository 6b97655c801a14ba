"""`swamp serve`'s native API on a real uvicorn at 127.0.0.1, driven by httpx:
the same rows as the CLI's --json, the same checks, tokens, events."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from repo_helpers import BROKEN, DEPLOY, GATED, events, make_repo, marks, swamp, wait_for
from serve_helpers import AUTH, OTHER, TOKEN, Running, running_server

from swamp.serve.tokens import load

SWAMP_YAML = """\
version: 1
env: [SWAMP_TEST_ENV]
secrets: [SWAMP_TEST_SECRET]
serve:
  allowStart: [deploy, gated, broken, leak, "sh.*"]
"""
LEAK = """\
name: leak
jobs:
  go:
    steps:
      - {name: say, model: sh, method: echo, inputs: {value: "${{ secrets.SWAMP_TEST_SECRET }}"}}
"""
SECRET = "hunter2-the-secret-value"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SWAMP_TEST_SECRET", SECRET)
    root = make_repo(
        tmp_path_factory.mktemp("serve") / "r",
        workflows={
            "deploy": DEPLOY,
            "gated": GATED,
            "broken": BROKEN,
            "leak": LEAK,
            "free": DEPLOY.replace("name: deploy", "name: free"),
        },
        swamp_yaml=SWAMP_YAML,
    )
    with running_server(root) as running:
        yield running
    mp.undo()


@pytest.fixture
def client(served: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as c:
        yield c


def root_of(served: Running) -> Path:
    return served.server.cache.root


# States a run does not leave by itself: waiting on for another is pointless.
FINAL = ("succeeded", "failed", "stopped", "cancelled")


def wait_state(client: httpx.Client, run: str, *states: str) -> dict[str, Any]:
    """The run's document once it is in one of `states`. A run that ends in
    another state fails the wait at once, and one that takes too long fails
    it too: either way the message says what the run was last, and why."""
    found: dict[str, Any] = {}

    def done() -> bool:
        found.clear()
        found.update(client.get(f"/api/v1/runs/{run}").json())
        if found["displayState"] in FINAL and found["displayState"] not in states:
            raise AssertionError(f"run {run} ended {last()}, not {states}")
        return found["displayState"] in states

    def last() -> str:
        return f"{found.get('displayState')} ({found.get('reason') or 'no reason given'})"

    # Bounded, not timed: on a loaded 2-core machine a run shares the cores
    # with the rest of the suite.
    wait_for(done, timeout=90, what=lambda: f"run {run} to be {states}; it was last {last()}")
    return found


def start(client: httpx.Client, name: str, **inputs: Any) -> str:
    r = client.post(f"/api/v1/workflows/{name}/runs", json={"inputs": inputs}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/api/v1/runs/{r.json()['run']}"
    run: str = r.json()["run"]
    return run


def test_a_started_run_is_journaled_with_the_tokens_name_and_finishes(
    served: Running, client: httpx.Client
) -> None:
    run = start(client, "deploy", env="prod")
    doc = wait_state(client, run, "succeeded")
    assert doc["by"] == "alice"
    assert doc["jobs"]["go"]["steps"]["ship"]["outputs"]["marked"] == "deploy-prod"
    kinds = [e["type"] for e in events(root_of(served), run)]
    assert kinds[:2] == ["run-created", "serve-accepted"]
    accepted = next(e for e in events(root_of(served), run) if e["type"] == "serve-accepted")
    assert accepted["by"] == "alice"
    assert TOKEN not in (root_of(served) / "runs" / run / "journal.jsonl").read_text()


def test_runs_and_queue_are_the_rows_of_the_cli(served: Running, client: httpx.Client) -> None:
    root = root_of(served)
    swamp(root, "workflow", "queue", "deploy", "--input", "env=qa", "--note", "for the API")
    run = start(client, "deploy", env="rows")
    wait_state(client, run, "succeeded")
    cli_queue = json.loads(swamp(root, "queue", "list", "--json").stdout)
    assert client.get("/api/v1/queue").json() == {"items": cli_queue, "unreadable": []}
    for query in ("", "?state=succeeded", "?workflow=deploy", "?since=1d", "?state=held"):
        args = [f"--{k}={v}" for k, v in (p.split("=") for p in query[1:].split("&") if p)]
        cli_runs = json.loads(swamp(root, "run", "list", "--json", *args).stdout)
        assert client.get(f"/api/v1/runs{query}").json() == {"runs": cli_runs}, query
    assert client.get("/api/v1/runs?since=yesterday").status_code == 400


def test_mutations_need_a_valid_token(client: httpx.Client) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-wrong-token"},
        {"Authorization": TOKEN},
    ):
        r = client.post("/api/v1/workflows/deploy/runs", json={}, headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json() == {"error": "a valid bearer token is needed (Authorization: Bearer …)"}
    r = client.post(
        "/api/v1/workflows/deploy/runs", json={}, headers={"Authorization": f"Bearer {OTHER}"}
    )
    assert r.status_code == 201
    assert r.json()["by"] == "bob"


def test_starts_take_the_clis_checks_and_swamp_yaml_allowstart(client: httpx.Client) -> None:
    def post(name: str, body: Any) -> httpx.Response:
        return client.post(f"/api/v1/workflows/{name}/runs", json=body, headers=AUTH)

    r = post("free", {})
    assert (r.status_code, r.json()) == (
        403,
        {"error": "swamp.yaml's serve.allowStart does not allow starting free"},
    )
    assert post("nope", {}).status_code == 403  # not allowed is said before unknown
    r = post("deploy", {"inputs": {"env": 3}})
    assert r.status_code == 400
    assert "env" in r.json()["error"]
    assert post("deploy", {"inputs": []}).status_code == 400
    r = client.post("/api/v1/workflows/deploy/runs", content=b"{", headers=AUTH)
    assert r.status_code == 400
    assert r.json()["error"].startswith("the body is not JSON")
    r = client.post("/api/v1/methods/sh/echo/runs", json={"inputs": {"value": "hi"}}, headers=AUTH)
    assert r.status_code == 201


def test_a_hold_is_released_through_the_api_and_recorded_with_the_tokens_name(
    served: Running, client: httpx.Client
) -> None:
    run = start(client, "gated")
    doc = wait_state(client, run, "held")
    assert doc["jobs"]["ship"]["prompt"] == "ship it?"
    r = client.post(f"/api/v1/runs/{run}/release", json={"job": "build"}, headers=AUTH)
    assert r.status_code == 409
    assert r.json()["error"] == f"job 'build' of run {run} is not on hold (held: ship)"
    assert client.post(f"/api/v1/runs/{run}/release", json={"job": "ship"}).status_code == 401
    r = client.post(f"/api/v1/runs/{run}/release", json={"job": "ship"}, headers=AUTH)
    assert r.status_code == 202
    doc = wait_state(client, run, "succeeded")
    assert doc["jobs"]["ship"]["released_by"] == "alice"


def test_retry_and_resume_go_through_the_engine(served: Running, client: httpx.Client) -> None:
    run = start(client, "broken")
    wait_state(client, run, "failed")
    (root_of(served) / "FIXED").write_text("")
    r = client.post(f"/api/v1/runs/{run}/retry", json={"step": "nope"}, headers=AUTH)
    assert (r.status_code, r.json()["error"]) == (409, f"run {run} has no step 'nope'")
    r = client.post(f"/api/v1/runs/{run}/retry", json={"step": "check"}, headers=AUTH)
    assert r.status_code == 202
    doc = wait_state(client, run, "succeeded")
    assert doc["jobs"]["go"]["steps"]["first"]["attempts"] == 1  # not re-run
    requests = [e for e in events(root_of(served), run) if e["type"] == "api-request"]
    assert [(e["action"], e["by"]) for e in requests] == [("retry", "alice")]
    r = client.post(f"/api/v1/runs/{run}/resume", headers=AUTH)
    assert (r.status_code, r.json()["error"]) == (
        409,
        f"run {run} already succeeded; nothing to resume",
    )
    r = client.post(f"/api/v1/runs/{run}/pause", headers=AUTH)
    assert (r.status_code, r.json()["error"]) == (
        409,
        f"run {run} is not executing; nothing to pause",
    )
    r = client.post(f"/api/v1/runs/{run}/stop", headers=AUTH)
    assert (r.status_code, r.json()["error"]) == (409, f"run {run} already succeeded")
    assert client.get("/api/v1/runs/no-such-run").status_code == 404


def test_outputs_and_events_are_masked(served: Running, client: httpx.Client) -> None:
    run = start(client, "leak")
    doc = wait_state(client, run, "succeeded")
    assert doc["jobs"]["go"]["steps"]["say"]["outputs"]["value"] == "***"
    with client.stream("GET", f"/api/v1/runs/{run}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert SECRET not in text
    assert "event: step-finished" in text
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("id: ")
    assert "event: end" in last
    assert '"state":"succeeded"' in last


def test_events_follow_a_run_as_it_executes(client: httpx.Client) -> None:
    run = start(client, "gated")
    with client.stream("GET", f"/api/v1/runs/{run}/events") as r:
        seen = []
        for line in r.iter_lines():
            if line.startswith("event: "):
                seen.append(line.removeprefix("event: "))
    assert seen[0] == "run-created"
    assert "step-finished" in seen
    assert seen[-1] == "end"
    with client.stream("GET", f"/api/v1/runs/{run}/events", headers={"Last-Event-ID": "3"}) as r:
        ids = [int(x[4:]) for x in r.iter_lines() if x.startswith("id: ") and x[4:]]
    assert min(ids) == 4


def test_health_ready_status_and_openapi(client: httpx.Client) -> None:
    import jsonschema

    r = client.get("/api/v1/health")
    assert (r.status_code, r.content) == (204, b"")
    assert client.get("/status").json() == {"status": "ok"}
    assert client.get("/api/v1/ready").json() == {"ready": True, "problems": []}
    from openapi_spec_validator import validate

    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # a valid OpenAPI 3.1 document
    # Every route the server has is documented, with the methods it takes.
    from swamp.serve.app import build

    app = build(None)  # type: ignore[arg-type]
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    from starlette.routing import Route

    served_api = {
        (r.path, m)
        for r in app.routes
        if isinstance(r, Route) and r.path.startswith(("/api/", "/status"))
        for m in (r.methods or set()) - {"HEAD"}
    }
    assert served_api == documented
    # Each operation has responses, and every $ref resolves.
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["responses"]
    text = json.dumps(doc)
    for ref in {p.split('"')[0] for p in text.split('"$ref": "')[1:]}:
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"]
    jsonschema.Draft202012Validator.check_schema(doc["components"]["schemas"]["MenderJob"])


def test_tokens_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    f = tmp_path / "tokens"
    f.write_text("# ops\ncarol:cccccccccccccccccccc\n")
    tokens = load(
        {
            "SWAMP_SERVE_TOKENS": "alice:aaaaaaaaaaaaaaaaaaaa, bob:bbbbbbbbbbbbbbbbbbbb",
            "SWAMP_SERVE_TOKENS_FILE": str(f),
        }
    )
    assert tokens.name_of("Bearer cccccccccccccccccccc") == "carol"
    assert tokens.name_of("Bearer bbbbbbbbbbbbbbbbbbbb") == "bob"
    assert tokens.name_of("Bearer aaaaaaaaaaaaaaaaaaab") is None
    assert "aaaa" not in repr(tokens)
    from swamp.errors import SwampError

    with pytest.raises(SwampError, match="SWAMP_SERVE_TOKENS: the token of 'x' is shorter than 16"):
        load({"SWAMP_SERVE_TOKENS": "x:short"})
    with pytest.raises(SwampError, match="entry 1: expected NAME:TOKEN"):
        load({"SWAMP_SERVE_TOKENS": "justatoken"})


def test_serve_refuses_a_public_bind_without_tokens(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from swamp.cli import app

    root = make_repo(tmp_path / "r")
    result = CliRunner().invoke(
        app, ["--repo", str(root), "serve", "--bind", "0.0.0.0:0"], env={"SWAMP_SERVE_TOKENS": ""}
    )
    assert result.exit_code == 1
    assert (
        "refusing to listen on 0.0.0.0, beyond this machine, without authentication"
        in result.output
    )
    result = CliRunner().invoke(app, ["--repo", str(root), "serve", "--bind", "nope"])
    assert result.exit_code == 2


def test_help_does_not_import_the_web_stack() -> None:
    code = (
        "import sys\nfrom swamp.cli import main\nsys.argv=['swamp','--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "bad=[m for m in ('starlette','uvicorn','swamp.serve','anyio') if m in sys.modules]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


SLOW = """\
name: slow
jobs:
  go:
    steps:
      - {name: nap, model: sh, method: sleep, inputs: {name: napped, seconds: 1.5}}
"""


def test_a_run_waiting_for_a_worker_is_listed_accepted_and_can_be_stopped(
    tmp_path: Path,
) -> None:
    yaml = SWAMP_YAML.replace("leak,", "leak, slow,")
    root = make_repo(tmp_path / "r", workflows={"slow": SLOW, "deploy": DEPLOY}, swamp_yaml=yaml)
    with running_server(root, workers=1) as srv, httpx.Client(base_url=srv.url) as client:
        busy = start(client, "slow")
        waiting = start(client, "deploy", env="never")
        rows = {r["run"]: r["state"] for r in client.get("/api/v1/runs").json()["runs"]}
        assert rows[waiting] == "accepted"
        r = client.post(f"/api/v1/runs/{waiting}/pause", headers=AUTH)
        assert r.status_code == 409
        r = client.post(f"/api/v1/runs/{waiting}/stop", headers=AUTH)
        assert (r.status_code, r.json()["state"]) == (200, "stopped")
        wait_state(client, busy, "succeeded")
        doc = wait_state(client, waiting, "stopped")
        assert doc["reason"] == "stopped on request by alice"
        assert "deploy-never" not in marks(root)  # it never started
        requests = [e for e in events(root, waiting) if e["type"] == "api-request"]
        assert [(e["action"], e["by"]) for e in requests] == [("stop", "alice")]
        # A freeze refuses new starts, with the CLI's message.
        from swamp import freeze

        freeze.freeze(root, by="ops", at="2026-11-29T00:00:00Z", reason="incident 9")
        r = client.post("/api/v1/workflows/deploy/runs", json={}, headers=AUTH)
        assert r.status_code == 409
        assert "incident 9" in r.json()["error"]
