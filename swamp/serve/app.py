"""The ASGI application: native API, Mender's API and the web view, with
one boundary that turns errors into JSON answers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from swamp.errors import SwampError
from swamp.serve import api, mender_api, web
from swamp.serve.context import ApiError, Server, error_response, refused

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger("swamp.serve")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _swamp_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SwampError)
    return error_response(refused(exc))


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(ApiError(500, f"unexpected {type(exc).__name__}; see the server's log"))


def build(server: Server) -> Starlette:
    app = Starlette(
        routes=[*mender_api.routes(), *api.routes(), *web.routes()],
        exception_handlers={ApiError: _api_error, SwampError: _swamp_error, Exception: _crash},
    )
    app.state.server = server
    return app
