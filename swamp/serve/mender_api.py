"""Mender's workflows API, as mendersoftware/workflows' api/http serves it,
so that a Mender deployment can point its services at swamp.

Paths, status codes and bodies follow Mender's handlers: a start answers
201 {"id", "name"}; an unknown workflow 404 {"error": "Workflow not found"};
missing inputParameters 400 {"error": "Missing input parameters: [a b]"};
a job's status document has Mender's fields in Mender's order. Job ids are
24 hex digits, like Mender's ObjectIDs, and are the runs' ids. Inputs keep
their JSON values: the dialect converts them where they are substituted
(Mender's ConvertAnythingToString: strings as they are, lists joined by
commas, the rest as JSON), and the status document shows that text.
Inputs a Mender workflow does not declare are accepted, as Mender does, and
not passed to the run.
"""

from __future__ import annotations

import json
import re
import secrets as random
import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from swamp.engine import runs
from swamp.engine.state import load_state
from swamp.errors import SwampError
from swamp.fsutil import atomic_write
from swamp.mender.substitute import input_text
from swamp.serve.api import check_start
from swamp.serve.context import ApiError, actor, masked, refuse_in_pull_mode, server
from swamp.validate import load_repository

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from swamp.engine.state import RunState

NOT_FOUND = "Workflow not found"
RESULT_PARTS = ("cli", "httpRequest", "httpResponse", "nats", "smtp")


def _json(data: Any, status: int = 200) -> Response:
    return JSONResponse(masked(data), status)


def job_id() -> str:
    """An id shaped like a Mongo ObjectID: 4 bytes of time, 8 random."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{random.token_hex(8)}"


async def _parsed(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"Unable to parse the input parameters: {e}") from None


def _accept(request: Request, name: str, params: Any, who: str) -> str:
    """Mender's startWorkflowGetJob, then swamp's start: the run's id."""
    if not isinstance(params, dict):
        raise ApiError(400, "Unable to parse the input parameters: expected a JSON object")
    repo = server(request).cache.get()
    wf = repo.workflows.get(name)
    if wf is None:
        raise ApiError(404, NOT_FOUND)
    if wf.dialect == "mender":
        required = list(wf.inputs.get("required") or [])
        missing = [k for k in required if k not in params]
        if missing:
            raise ApiError(400, f"Missing input parameters: [{' '.join(missing)}]")
        declared = wf.inputs.get("properties") or {}
        params = {k: v for k, v in params.items() if k in declared}
    inputs = check_start(request, "workflow", name, params)
    try:
        return server(request).dispatcher.accept(
            "workflow", name, inputs, by=who, via="mender", run_id=job_id()
        )
    except SwampError as e:
        raise ApiError(503 if "shutting down" in str(e) else 400, str(e)) from None


def _who(request: Request) -> str:
    refuse_in_pull_mode(request, "start workflows")
    anonymous = "mender" if server(request).cache.get().config.serve.mender_without_token else None
    return actor(request, anonymous_as=anonymous)


async def start(request: Request) -> Response:
    name = request.path_params["name"]
    who = _who(request)
    params = await _parsed(request)
    run_id = await run_in_threadpool(_accept, request, name, params, who)
    return _json({"id": run_id, "name": name}, 201)


async def start_batch(request: Request) -> Response:
    name = request.path_params["name"]
    who = _who(request)
    batch = await _parsed(request)
    if not isinstance(batch, list):
        raise ApiError(400, "Unable to parse the input parameters: expected a JSON array")
    result = []
    for params in batch:  # as Mender: the first refusal ends the batch
        run_id = await run_in_threadpool(_accept, request, name, params, who)
        result.append({"id": run_id, "name": name})
    return _json(result, 201)


def _status(state: str) -> str:
    match state:
        case "created":
            return "pending"
        case "succeeded":
            return "done"
        case "failed" | "stopped" | "cancelled":
            return "failed"
        case _:  # running, held, paused: work in progress
            return "processing"


def _result(name: str, step: Any) -> dict[str, Any]:
    outputs = step.outputs or {}
    if "type" in outputs and "success" in outputs:  # a Mender task's own result
        result: dict[str, Any] = {
            "name": name,
            "type": outputs["type"],
            "success": bool(outputs["success"]),
            "skipped": bool(outputs.get("skipped", False)),
        }
        for part in RESULT_PARTS:
            if part in outputs:
                value = outputs[part]
                if part == "httpRequest" and isinstance(value.get("headers"), dict):
                    value = {
                        **value,
                        "headers": [f"{k}: {v}" for k, v in value["headers"].items()],
                    }
                result[part] = value
        return result
    return {
        "name": name,
        "type": step.target or "swamp",
        "success": step.state == "succeeded",
        "skipped": step.state == "skipped",
    }


def job_document(state: RunState) -> dict[str, Any]:
    """Mender's model.Job, as PrepareForJSONMarshalling leaves it."""
    results = [
        _result(key, step)
        for job in state.jobs.values()
        for key, step in job.steps.items()
        if step.state not in ("pending", "running")
    ]
    return {
        "id": state.id,
        "workflowName": state.target,
        "inputParameters": [{"name": k, "value": input_text(v)} for k, v in state.inputs.items()],
        "status": _status(state.state),
        "results": results or None,
        "insert_time": state.created,
        "version": "",
    }


def _job(request: Request, run_id: str, name: str | None) -> Response:
    root = server(request).cache.root
    folder = runs.runs_dir(root) / run_id
    if "/" in run_id or run_id.startswith(".") or not (folder / "journal.jsonl").is_file():
        return _json({"error": "not found"}, 404)
    state = load_state(folder)
    if name is not None and state.target != name:
        return _json({"error": "not found"}, 404)
    return _json(job_document(state))


def job_by_name(request: Request) -> Response:
    return _job(request, request.path_params["id"], request.path_params["name"])


def job_by_id(request: Request) -> Response:
    return _job(request, request.path_params["id"], None)


def health(request: Request) -> Response:
    srv = server(request)
    if srv.dispatcher.draining:
        return _json({"error": "shutting down"}, 503)
    if not srv.cache.root.joinpath("swamp.yaml").is_file():
        return _json({"error": "the repository is not there"}, 503)
    return Response(status_code=204)


def status(request: Request) -> Response:
    return _json({"status": "ok"})


def workflows(request: Request) -> Response:
    """Every workflow as Mender describes one; Mender's own files as written."""
    repo = server(request).cache.get()
    docs = []
    for name, wf in sorted(repo.workflows.items()):
        doc = repo.docs.get(wf.file)
        if wf.dialect == "mender" and doc is not None and isinstance(doc.data, dict):
            docs.append(doc.data)
            continue
        required = list(wf.inputs.get("required") or [])
        optional = [k for k in wf.inputs.get("properties") or {} if k not in required]
        docs.append(
            {
                "name": name,
                "topic": "",
                "ephemeral": False,
                "description": wf.description,
                "version": 0,
                "schemaVersion": 0,
                "tasks": [],
                "inputParameters": required,
                "optionalParameters": optional,
            }
        )
    return _json(docs)


async def register(request: Request) -> Response:
    who = actor(request)
    refuse_in_pull_mode(request, "add workflows")
    srv = server(request)
    if not srv.cache.get().config.serve.allow_register:
        raise ApiError(403, "swamp.yaml's serve.allowRegister is not true")
    raw = await request.body()
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"Error parsing JSON form: {e}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Error parsing JSON form: expected a JSON object")
    name = data.get("name")
    if not name or not isinstance(name, str):
        raise ApiError(400, "Workflow missing name")
    await run_in_threadpool(_write_workflow, request, name, data, who)
    return Response(status_code=201)


def _write_workflow(request: Request, name: str, data: dict[str, Any], who: str) -> None:
    root = server(request).cache.root
    if name in server(request).cache.get().workflows:
        raise ApiError(409, "Workflow already exists")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "workflow"
    path = root / "workflows" / f"{slug}.json"
    if path.exists():
        raise ApiError(409, "Workflow already exists")
    atomic_write(path, json.dumps(data, indent=2) + "\n")
    # Refuse (and take back) a definition that swamp cannot load.
    repo = load_repository(root)
    rel = path.relative_to(root).as_posix()
    problems = [str(p) for p in repo.problems if p.file == rel]
    if problems:
        path.unlink()
        raise ApiError(400, "; ".join(problems))


def routes() -> list[Route]:
    return [
        Route("/status", status),
        Route("/api/v1/health", health),
        Route("/api/v1/workflow/{name}", start, methods=["POST"]),
        Route("/api/v1/workflow/{name}/batch", start_batch, methods=["POST"]),
        Route("/api/v1/workflow/{name}/{id}", job_by_name),
        Route("/api/v1/metadata/workflows", workflows, methods=["GET"]),
        Route("/api/v1/metadata/workflows", register, methods=["POST"]),
        Route("/api/v1/jobs/{id}", job_by_id),
    ]
