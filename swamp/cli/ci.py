"""`swamp ci`: GitHub Actions workflows in step with swamp.yaml.

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

app = typer.Typer(
    help="GitHub Actions: keep the workflows in step with swamp.yaml.\n\nExample:\n\n"
    "  swamp ci sync",
    no_args_is_help=True,
)


@app.command("sync")
def ci_sync(
    ctx: typer.Context,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            metavar="15m|30m|1h|off",
            help="Also run this often, for items with --at / --not-before "
            "(default: as the workflow has it, else 1h).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the execute workflow's schedule from swamp.yaml's windows.

    Rewrites the crons between the "BEGIN swamp ci sync" and "END swamp ci sync"
    lines of .github/workflows/swamp-execute.yml: each window's openings in UTC
    (both UTC offsets where the time zone has daylight saving time), plus a run
    every --every for items with a time. `swamp validate` reports a window that
    the schedule does not cover.

    Example:

      swamp ci sync

      swamp ci sync --every 15m
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import ci as cmd

    call(cmd.sync, repo_of(ctx), every=every)
