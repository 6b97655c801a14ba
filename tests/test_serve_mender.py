"""The Mender-compatible routes of `swamp serve`, driven with the request
shapes Mender's own services send (deviceauth's provision and decommission
calls, a batch as the reporting service sends it), answered as
mendersoftware/workflows' api/http answers them."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from repo_helpers import make_repo, wait_for
from serve_helpers import AUTH, Running, running_server

SWAMP_YAML = """\
version: 1
serve:
  allowStart: [provision_device, decommission_device, deploy]
  menderWithoutToken: true
  allowRegister: true
"""
DEPLOY = """\
name: deploy
inputs:
  properties:
    env: {type: string}
  required: [env]
jobs:
  go:
    steps:
      - {name: ship, model: sh, method: mark, inputs: {name: "${{ inputs.env }}"}}
"""


def cli_task(name: str, *words: str) -> dict[str, Any]:
    code = "import json, sys; print(json.dumps({'args': sys.argv[1:]}))"
    return {"name": name, "type": "cli", "cli": {"command": [sys.executable, "-c", code, *words]}}


PROVISION = {
    "name": "provision_device",
    "description": "Provision a device.",
    "version": 4,
    "schemaVersion": 1,
    "tasks": [cli_task("create", "${workflow.input.device_id}", "${workflow.input.device}")],
    "inputParameters": ["request_id", "device_id", "device", "tenant_id"],
}
DECOMMISSION = {
    "name": "decommission_device",
    "version": 7,
    "schemaVersion": 1,
    "tasks": [
        cli_task("delete", "${workflow.input.device_id}"),
        {
            "name": "fail",
            "type": "cli",
            "cli": {"command": [sys.executable, "-c", "raise SystemExit(3)"]},
        },
    ],
    "inputParameters": ["request_id", "device_id", "tenant_id"],
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = make_repo(
        tmp_path_factory.mktemp("mender") / "r", workflows={"deploy": DEPLOY}, swamp_yaml=SWAMP_YAML
    )
    for wf in (PROVISION, DECOMMISSION):
        (root / "workflows" / f"{wf['name']}.json").write_text(json.dumps(wf, indent=2))
    with running_server(root) as running:
        yield running


@pytest.fixture
def client(served: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as c:
        yield c


def job(client: httpx.Client, job_id: str, *statuses: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        r = client.get(f"/api/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        found.clear()
        found.update(r.json())
        return found["status"] in statuses

    wait_for(done, what=f"job {job_id} to be {statuses}")
    return found


def test_a_start_answers_201_with_id_and_name_and_the_job_document(client: httpx.Client) -> None:
    # deviceauth's StartProvisionDevice: request_id, device_id, a device object, tenant_id.
    device = {"id": "5e8d", "identity_data": {"mac": "00:11"}, "status": "accepted"}
    body = {"request_id": "req-1", "device_id": "5e8d", "device": device, "tenant_id": "t1"}
    r = client.post("/api/v1/workflow/provision_device", json=body)
    assert r.status_code == 201
    assert list(r.json()) == ["id", "name"]
    assert r.json()["name"] == "provision_device"
    job_id = r.json()["id"]
    assert re.fullmatch("[0-9a-f]{24}", job_id)  # shaped like Mender's ObjectID
    doc = job(client, job_id, "done")
    assert list(doc) == [
        "id",
        "workflowName",
        "inputParameters",
        "status",
        "results",
        "insert_time",
        "version",
    ]
    assert doc["workflowName"] == "provision_device"
    params = {p["name"]: p["value"] for p in doc["inputParameters"]}
    assert params["device"] == '{"id":"5e8d","identity_data":{"mac":"00:11"},"status":"accepted"}'
    assert params["device_id"] == "5e8d"
    assert all(set(p) == {"name", "value"} for p in doc["inputParameters"])  # no raw
    [result] = doc["results"]
    assert (result["name"], result["type"], result["success"], result["skipped"]) == (
        "create",
        "cli",
        True,
        False,
    )
    assert json.loads(result["cli"]["output"])["args"] == ["5e8d", params["device"]]
    assert result["cli"]["exitCode"] == 0
    assert doc["version"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["insert_time"])
    assert client.get(f"/api/v1/workflow/provision_device/{job_id}").json() == doc
    r = client.get(f"/api/v1/workflow/decommission_device/{job_id}")
    assert (r.status_code, r.json()) == (404, {"error": "not found"})
    r = client.get("/api/v1/jobs/000000000000000000000000")
    assert (r.status_code, r.json()) == (404, {"error": "not found"})


def test_a_failed_job_and_mender_refusals(client: httpx.Client) -> None:
    body = {"request_id": "req-2", "device_id": "d2", "tenant_id": ""}
    r = client.post("/api/v1/workflow/decommission_device", json=body)
    assert r.status_code == 201
    doc = job(client, r.json()["id"], "failed")
    assert [(x["name"], x["success"]) for x in doc["results"]] == [
        ("delete", True),
        ("fail", False),
    ]
    assert doc["results"][1]["cli"]["exitCode"] == 3
    r = client.post("/api/v1/workflow/decommission_device", json={"device_id": "d3"})
    assert (r.status_code, r.json()) == (
        400,
        {"error": "Missing input parameters: [request_id tenant_id]"},
    )
    r = client.post("/api/v1/workflow/nope", json={})
    assert (r.status_code, r.json()) == (404, {"error": "Workflow not found"})
    r = client.post("/api/v1/workflow/decommission_device", content=b"[1")
    assert r.status_code == 400
    assert r.json()["error"].startswith("Unable to parse the input parameters: ")
    # Inputs Mender does not know are accepted, as Mender does.
    r = client.post("/api/v1/workflow/decommission_device", json={**body, "extra": 1})
    assert r.status_code == 201


def test_batch_starts_one_job_per_object(client: httpx.Client) -> None:
    batch = [{"request_id": f"r{i}", "device_id": f"d{i}", "tenant_id": "t"} for i in range(3)]
    r = client.post("/api/v1/workflow/decommission_device/batch", json=batch)
    assert r.status_code == 201
    assert [x["name"] for x in r.json()] == ["decommission_device"] * 3
    assert len({x["id"] for x in r.json()}) == 3
    r = client.post("/api/v1/workflow/decommission_device/batch", json={"a": 1})
    assert r.status_code == 400


def test_native_workflows_through_mender_routes_and_tokens(
    served: Running, client: httpx.Client
) -> None:
    r = client.post("/api/v1/workflow/deploy", json={"env": 5})  # swamp's own input check
    assert r.status_code == 400
    r = client.post("/api/v1/workflow/deploy", json={"env": "eu"}, headers=AUTH)
    doc = job(client, r.json()["id"], "done")
    assert doc["results"][0]["success"] is True
    runs = client.get("/api/v1/runs?workflow=deploy").json()["runs"]
    assert [x["by"] for x in runs] == ["alice"]
    r = client.post(
        "/api/v1/workflow/deploy", json={"env": "x"}, headers={"Authorization": "Bearer bad"}
    )
    assert r.status_code == 401  # a wrong token is refused even where none is needed


def test_metadata_workflows_lists_and_registers(served: Running, client: httpx.Client) -> None:
    docs = client.get("/api/v1/metadata/workflows").json()
    by_name = {d["name"]: d for d in docs}
    assert by_name["provision_device"] == PROVISION
    assert by_name["deploy"]["inputParameters"] == ["env"]
    new = {"name": "ping", "version": 1, "tasks": [cli_task("ping", "x")], "inputParameters": []}
    assert client.post("/api/v1/metadata/workflows", json=new).status_code == 401
    r = client.post("/api/v1/metadata/workflows", json=new, headers=AUTH)
    assert (r.status_code, r.content) == (201, b"")
    assert (served.server.cache.root / "workflows" / "ping.json").is_file()
    r = client.post("/api/v1/metadata/workflows", json=new, headers=AUTH)
    assert (r.status_code, r.json()) == (409, {"error": "Workflow already exists"})
    r = client.post("/api/v1/metadata/workflows", json={"tasks": []}, headers=AUTH)
    assert (r.status_code, r.json()) == (400, {"error": "Workflow missing name"})
    assert "ping" in {d["name"] for d in client.get("/api/v1/metadata/workflows").json()}
