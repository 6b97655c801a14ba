"""The native JSON API under /api/v1: queue, runs, events, and the actions
of the CLI (start, release, pause, stop, resume, retry), each through the
same functions and checks as its command.

Native resources are plural nouns (`/api/v1/queue`, `/api/v1/runs`,
`/api/v1/workflows/{name}/runs`); Mender's routes are singular
(`/api/v1/workflow/{name}`, `/api/v1/jobs/{id}`, `/api/v1/metadata/…`), so
the two never claim the same path. `/api/v1/health` is Mender's and serves
both.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from swamp.commands import run as run_cmd
from swamp.commands import workflow as wf_cmd
from swamp.commands.run import display_state, run_rows
from swamp.engine import runs, service
from swamp.engine.events import ApiRequest
from swamp.engine.state import RunStatus, load_state
from swamp.errors import SwampError
from swamp.inputs import apply_defaults, check_inputs
from swamp.queue.listing import queue_rows
from swamp.serve.context import (
    ApiError,
    Server,
    actor,
    masked,
    refuse_in_pull_mode,
    refused,
    server,
)
from swamp.serve.events import stream
from swamp.serve.openapi import document

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(masked(data), status, headers=headers)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"the body is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def queue(request: Request) -> Response:
    done = request.query_params.get("done") in ("1", "true")
    rows, broken = queue_rows(server(request).cache.get(), include_done=done)
    return _json({"items": rows, "unreadable": broken})


# A run this server has accepted and not started yet: a worker of this server will.
ACCEPTED = "accepted"


def shown_state(srv: Server, run_id: str, state: str) -> str:
    """The state the API and the pages show: a run this server accepted is
    `accepted` until its worker starts it, not `created` or `interrupted`."""
    if srv.dispatcher.owns(run_id) and state in (RunStatus.CREATED, RunStatus.INTERRUPTED):
        return ACCEPTED
    return state


def run_list(request: Request) -> Response:
    q = request.query_params
    srv = server(request)
    try:
        rows = run_rows(
            srv.cache.get(), state=q.get("state"), workflow=q.get("workflow"), since=q.get("since")
        )
    except SwampError as e:
        raise ApiError(400, str(e)) from None
    for row in rows:
        row["state"] = shown_state(srv, row["run"], row["state"])
    return _json({"runs": rows})


def run_document(request: Request, run_id: str) -> dict[str, Any]:
    srv = server(request)
    try:
        folder = runs.find_run(srv.cache.root, run_id)
    except SwampError as e:
        raise refused(e, 404) from None
    st = load_state(folder)
    data = st.to_dict()
    data["displayState"] = shown_state(srv, st.id, display_state(st, folder))
    return data


def run_show(request: Request) -> Response:
    return _json(run_document(request, request.path_params["run"]))


def run_events(request: Request) -> Response:
    srv = server(request)
    try:
        folder = runs.find_run(srv.cache.root, request.path_params["run"])
    except SwampError as e:
        raise refused(e, 404) from None
    last = request.headers.get("last-event-id", "")
    after = int(last) if last.isdigit() else 0
    run_id = folder.name
    return StreamingResponse(
        stream(folder, lambda: srv.dispatcher.owns(run_id), after=after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def check_start(request: Request, kind: str, target: str, inputs: dict[str, Any]) -> Any:
    """What `workflow run` / `method run` check before they start: the
    definition exists and is valid, the inputs fit; plus swamp.yaml's
    serve.allowStart. The inputs with their defaults."""
    repo = server(request).cache.get()
    if not repo.config.serve.may_start(target):
        raise ApiError(403, f"swamp.yaml's serve.allowStart does not allow starting {target}")
    try:
        if kind == "workflow":
            wf = repo.workflow(target)
            repo.require_valid(repo.workflow_files(target))
        else:
            model_name = target.partition(".")[0]
            repo.require_valid([repo.model(model_name).file])
            wf = service.target_workflow(repo, "method", target)
    except SwampError as e:
        raise refused(e) from None
    full = apply_defaults(inputs, wf.inputs)
    try:
        check_inputs(full, wf.inputs, target)
    except SwampError as e:
        raise ApiError(400, str(e)) from None
    return full


async def _start(request: Request, kind: str, target: str) -> Response:
    who = actor(request)
    refuse_in_pull_mode(request, "start runs")
    body = await _body(request)
    inputs = body.get("inputs", {})
    if not isinstance(inputs, dict):
        raise ApiError(400, '"inputs" must be a JSON object')

    def start() -> str:
        full = check_start(request, kind, target, inputs)
        try:
            return server(request).dispatcher.accept(kind, target, full, by=who, via="api")
        except SwampError as e:
            raise refused(e, 503 if "shutting down" in str(e) else 409) from None

    run_id = await run_in_threadpool(start)
    return _json(
        {"run": run_id, "state": "accepted", "by": who},
        201,
        headers={"Location": f"/api/v1/runs/{run_id}"},
    )


async def start_workflow(request: Request) -> Response:
    return await _start(request, "workflow", request.path_params["name"])


async def start_method(request: Request) -> Response:
    p = request.path_params
    return await _start(request, "method", f"{p['model']}.{p['method']}")


async def _action(request: Request, action: str) -> Response:
    who = actor(request)
    if action not in ("pause", "stop"):
        refuse_in_pull_mode(request, f"{action} runs")
    body = await _body(request)
    run_id = request.path_params["run"]
    answer = await run_in_threadpool(_act, request, action, run_id, who, body)
    return _json(answer, 200 if action in ("pause", "stop") else 202)


def _act(request: Request, action: str, run_id: str, who: str, body: dict[str, Any]) -> Any:
    srv = server(request)
    repo = srv.cache.get()
    d = srv.dispatcher
    try:
        match action:
            case "release":
                job = body.get("job")
                if not isinstance(job, str) or not job:
                    raise ApiError(400, 'give the held job as {"job": NAME}')
                name = runs.find_run(repo.root, run_id).name
                handle = wf_cmd.take_release(repo, job, name, who)
                d.submit_resume(handle)
                return {"run": handle.id, "released": job, "by": who}
            case "pause":
                if d.is_pending(runs.find_run(repo.root, run_id).name):
                    raise ApiError(
                        409, f"run {run_id} waits for a worker; stop it, or pause it once it runs"
                    )
                name = run_cmd.request_pause(repo, run_id)
                recorded = d.note(name, "pause", who)
                return {"run": name, "requested": "pause", "by": who, "recorded": recorded}
            case "stop":
                name = runs.find_run(repo.root, run_id).name
                recorded = d.note(name, "stop", who)
                if d.stop_waiting(name, who):
                    stopped = RunStatus.STOPPED
                    return {"run": name, "state": stopped, "by": who, "recorded": recorded}
                name, state = run_cmd.request_stop(repo, name, by=who)
                return {"run": name, "state": state, "by": who, "recorded": recorded}
            case "resume":
                repo.require_valid()
                name = runs.find_run(repo.root, run_id).name
                if d.owns(name):
                    raise ApiError(409, f"run {name} is being executed by this server")
                rerun = body.get("rerunUnknown", False) is True
                d.note(name, "resume", who, rerun_unknown=rerun)
                handle = runs.open_run(repo.root, name)
                _check_resumable(handle)
                d.submit_resume(handle, rerun_unknown=rerun)
                return {"run": handle.id, "requested": "resume", "by": who}
            case "retry":
                step = body.get("step")
                if not isinstance(step, str) or not step:
                    raise ApiError(400, 'give the step as {"step": NAME, "job": NAME?}')
                name = runs.find_run(repo.root, run_id).name
                handle = run_cmd.reset_for_retry(repo, name, step, body.get("job"))
                handle.record(ApiRequest, action="retry", by=who, step=step)
                d.submit_resume(handle, retrying=True)
                return {"run": handle.id, "requested": "retry", "step": step, "by": who}
            case _:
                raise ApiError(404, f"no action {action!r}")
    except SwampError as e:
        raise refused(e) from None


def _check_resumable(handle: Any) -> None:
    """service.resume's refusals, said before the 202 rather than in a log."""
    state = handle.state
    problem = None
    if state.state == RunStatus.SUCCEEDED:
        problem = f"run {handle.id} already succeeded; nothing to resume"
    elif state.state == RunStatus.CANCELLED:
        problem = f"run {handle.id} was cancelled"
    if problem:
        handle.journal.close()
        raise ApiError(409, problem)


async def release(request: Request) -> Response:
    return await _action(request, "release")


async def pause(request: Request) -> Response:
    return await _action(request, "pause")


async def stop(request: Request) -> Response:
    return await _action(request, "stop")


async def resume(request: Request) -> Response:
    return await _action(request, "resume")


async def retry(request: Request) -> Response:
    return await _action(request, "retry")


def ready(request: Request) -> Response:
    """Ready when the definitions load without problems and the runs that a
    restart left have been taken up again."""
    srv = server(request)
    problems: list[str] = []
    if not srv.dispatcher.recovered:
        problems.append("recovering the runs accepted before the restart")
    if srv.dispatcher.draining:
        problems.append("shutting down")
    try:
        repo = srv.cache.get()
        problems += [str(p) for p in repo.problems]
    except SwampError as e:
        problems.append(str(e))
    return _json({"ready": not problems, "problems": problems}, 503 if problems else 200)


def openapi(request: Request) -> Response:
    return _json(document())


def routes() -> list[Route]:
    v1 = "/api/v1"
    return [
        Route(f"{v1}/openapi.json", openapi),
        Route(f"{v1}/ready", ready),
        Route(f"{v1}/queue", queue),
        Route(f"{v1}/runs", run_list),
        Route(f"{v1}/runs/{{run}}", run_show),
        Route(f"{v1}/runs/{{run}}/events", run_events),
        Route(f"{v1}/runs/{{run}}/release", release, methods=["POST"]),
        Route(f"{v1}/runs/{{run}}/pause", pause, methods=["POST"]),
        Route(f"{v1}/runs/{{run}}/stop", stop, methods=["POST"]),
        Route(f"{v1}/runs/{{run}}/resume", resume, methods=["POST"]),
        Route(f"{v1}/runs/{{run}}/retry", retry, methods=["POST"]),
        Route(f"{v1}/workflows/{{name}}/runs", start_workflow, methods=["POST"]),
        Route(f"{v1}/methods/{{model}}/{{method}}/runs", start_method, methods=["POST"]),
    ]
