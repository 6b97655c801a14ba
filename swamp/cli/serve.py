"""`swamp serve`: the HTTP API, the Mender routes and the web view.

Each command imports its logic (swamp/commands/) when it is called, so that
start-up and `--help` load none of it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from swamp.cli.boundary import call
from swamp.cli.options import (
    repo_of,
)


def serve_command(
    ctx: typer.Context,
    bind: Annotated[
        str,
        typer.Option(
            "--bind",
            metavar="HOST:PORT",
            help="Where to listen. Beyond loopback only with tokens (SWAMP_SERVE_TOKENS).",
        ),
    ] = "127.0.0.1:8080",
    pull: Annotated[
        str | None,
        typer.Option(
            "--pull",
            metavar="REMOTE",
            help="Also run the queue: clone REMOTE into --repo (default: the current "
            "folder, empty or a clone of REMOTE), then on every tick fetch it "
            "and execute what is due, as `queue execute --all --push` does.",
            show_default=False,
        ),
    ] = None,
    interval: Annotated[
        str, typer.Option("--interval", metavar="DURATION", help="Time between pulls.")
    ] = "60s",
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="i/N",
            help="With --pull: only this runner's share of the items.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, metavar="N", help="Runs executed at once.")
    ] = 4,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            metavar="SECONDS",
            help="On SIGTERM, how long running steps may finish before they are stopped.",
        ),
    ] = 30.0,
) -> None:
    """Serve the HTTP API (native and Mender-compatible) and the web view.

    Reads are open; starting and controlling runs need a bearer token from
    SWAMP_SERVE_TOKENS="name:token,..." (or a file named by
    SWAMP_SERVE_TOKENS_FILE). What may be started is listed in swamp.yaml's
    serve.allowStart. Runs accepted are journaled before the answer and
    finished after a crash and restart.

    Example:

      swamp serve

      swamp serve --bind 0.0.0.0:8080 --workers 8

      swamp serve --pull git@git.internal:ops/swamp-ops.git --interval 5m --shard 1/2
    """
    # start-up time: a command loads only what it runs
    from swamp.serve.main import serve

    call(
        serve,
        repo_of(ctx),
        bind=bind,
        workers=workers,
        grace=grace,
        pull=pull,
        interval=interval,
        shard=shard,
    )
