"""What every route needs: the repository, the dispatcher, the tokens, and
the one place that turns swamp's errors into HTTP answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from swamp import secrets
from swamp.errors import InvalidFiles, SwampError
from swamp.serve.repocache import RepoCache
from swamp.serve.tokens import Tokens
from swamp.serve.worker import Dispatcher

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import JSONResponse


@dataclass
class Server:
    cache: RepoCache
    dispatcher: Dispatcher
    tokens: Tokens
    pull: str | None = None  # the remote a pull runner follows


class ApiError(Exception):
    """An answer other than success: status and message (as {"error": …})."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def server(request: Request) -> Server:
    srv: Server = request.app.state.server
    return srv


def refuse_in_pull_mode(request: Request, what: str) -> None:
    """A pulling server's checkout follows git: what changes it goes through git."""
    remote = server(request).pull
    if remote is not None:
        raise ApiError(
            409,
            f"this server pulls {remote}: {what} through git instead "
            "(queue it, or `swamp workflow release --stage`, in a reviewed change)",
        )


def actor(request: Request, *, anonymous_as: str | None = None) -> str:
    """The name of the caller's token; 401 without a valid one (unless
    `anonymous_as` names whom a tokenless call is recorded as)."""
    header = request.headers.get("authorization")
    name = server(request).tokens.name_of(header)
    if name is not None:
        return name
    if anonymous_as is not None and header is None:
        return anonymous_as
    raise ApiError(401, "a valid bearer token is needed (Authorization: Bearer …)")


def error_response(e: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="swamp"'} if e.status == 401 else None
    return JSONResponse({"error": secrets.mask_text(e.message)}, e.status, headers=headers)


def refused(e: SwampError, status: int = 409) -> ApiError:
    """A check of the CLI said no: the same message, as an HTTP answer."""
    if isinstance(e, InvalidFiles):
        return ApiError(409, "; ".join(str(p) for p in e.problems))
    text = str(e)
    if text.startswith(("no run ", "unknown workflow", "unknown model")):
        status = 404
    return ApiError(status, text)


def masked(value: Any) -> Any:
    return secrets.mask(value)
