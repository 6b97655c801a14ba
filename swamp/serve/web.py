"""The web view: the queue, the runs with filters, a run with its job graph
and live step states. Rendered on the server with Jinja2; the only script
is the run page's (the event stream, and a release form that needs a
token). Read-only without a token."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Route

from swamp.commands.run import run_rows
from swamp.engine import runs, service
from swamp.engine.state import RunStatus, load_state
from swamp.errors import SwampError
from swamp.queue.listing import queue_rows
from swamp.serve.api import ACCEPTED, run_document, shown_state
from swamp.serve.context import masked, server
from swamp.serve.svg import job_graph

if TYPE_CHECKING:
    import jinja2
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

# What the runs page can filter on, in the order it offers them.
RUN_STATES = (
    ACCEPTED,
    RunStatus.RUNNING,
    RunStatus.HELD,
    RunStatus.FAILED,
    RunStatus.PAUSED,
    RunStatus.STOPPED,
    RunStatus.SUCCEEDED,
    RunStatus.INTERRUPTED,
    RunStatus.CREATED,
)


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _page(request: Request, template: str, title: str, **values: Any) -> Response:
    srv = server(request)
    html = (
        _env()
        .get_template(template)
        .render(title=title, repo_name=srv.cache.root.name, pull=srv.pull, **masked(values))
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": _CSP})


# Inline script and style only; nothing from elsewhere.
_CSP = "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'"


def home(request: Request) -> Response:
    return RedirectResponse("/queue", 302)


def queue_page(request: Request) -> Response:
    rows, broken = queue_rows(server(request).cache.get())
    return _page(request, "queue.html", "Queue", items=rows, broken=broken)


def runs_page(request: Request) -> Response:
    srv = server(request)
    q = request.query_params
    filters = {k: q.get(k) or None for k in ("state", "workflow", "since")}
    error = None
    try:
        rows = run_rows(srv.cache.get(), **filters)
    except SwampError as e:
        rows, error = [], str(e)
    for row in rows:
        row["state"] = shown_state(srv, row["run"], row["state"])
    return _page(
        request, "runs.html", "Runs", runs=rows, filters=filters, states=RUN_STATES, error=error
    )


def run_page(request: Request) -> Response:
    srv = server(request)
    data = run_document(request, request.path_params["run"])
    folder = runs.find_run(srv.cache.root, data["id"])
    graph = None
    try:
        repo = srv.cache.get()
        wf = service.target_workflow(repo, data["kind"], data["target"], data["inputs"])
        graph = job_graph(wf, load_state(folder))
    except SwampError:
        pass  # the definition is gone or broken: the page still shows the journal
    live = data["displayState"] in (ACCEPTED, RunStatus.RUNNING, RunStatus.CREATED)
    return _page(request, "run.html", f"Run {data['id']}", run=data, graph=graph, live=live)


def routes() -> list[BaseRoute]:
    return [
        Route("/", home),
        Route("/queue", queue_page),
        Route("/runs", runs_page),
        Route("/runs/{run}", run_page),
    ]
