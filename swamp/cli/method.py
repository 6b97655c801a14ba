"""`swamp method`: run, queue or schedule one method of a model.

Each command imports its logic (swamp/commands/) when it is called, so that
start-up and `--help` load none of it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from swamp.cli.boundary import call
from swamp.cli.options import (
    ByOption,
    CommitOption,
    InputFileOption,
    InputOption,
    JsonOption,
    NotAfterOption,
    NotBeforeOption,
    NoteOption,
    PushOption,
    WindowOption,
    publish,
    repo_of,
)

app = typer.Typer(
    help="Run a model's method now.\n\nExample:\n\n  swamp method run vpn add-to-group "
    "--input user=jsmith --input group=engineering",
    no_args_is_help=True,
)


@app.command("run")
def method_run(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Argument(help="The model's name (models/<file>: name).", metavar="MODEL")
    ],
    method: Annotated[str, typer.Argument(help="The method to run.", metavar="METHOD")],
    inputs: InputOption = None,
    input_files: InputFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run one method of a model now and print its outputs.

    Inputs are checked against the model's input schema before anything runs.

    Example:

      swamp method run ad-account create --input user=jsmith

      swamp method run binary release --input version=v1.0.0 --json
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import method as cmd

    call(cmd.run, repo_of(ctx), model, method, inputs or [], input_files or [], as_json=as_json)


@app.command("queue")
def method_queue(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model's name.", metavar="MODEL")],
    method: Annotated[str, typer.Argument(help="The method.", metavar="METHOD")],
    inputs: InputOption = None,
    input_files: InputFileOption = None,
    note: NoteOption = None,
    not_before: NotBeforeOption = None,
    not_after: NotAfterOption = None,
    window: WindowOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
) -> None:
    """Stage one method call as a file under queue/.

    Example:

      swamp method queue ad-account create --input user=adoe

      swamp method queue vpn add-to-group --input user=adoe --input group=support
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import queue as cmd
    from swamp.queue.stage import When

    call(
        cmd.queue_method,
        repo_of(ctx),
        model,
        method,
        inputs or [],
        input_files or [],
        note=note,
        when=When(not_before, not_after, window),
        by=by,
        as_json=as_json,
        publish=publish(commit, push),
    )


@app.command("schedule")
def method_schedule(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model's name.", metavar="MODEL")],
    method: Annotated[str, typer.Argument(help="The method.", metavar="METHOD")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="Run at or after TIME (ISO 8601 or +2h).",
            show_default=False,
        ),
    ] = None,
    window: WindowOption = None,
    inputs: InputOption = None,
    input_files: InputFileOption = None,
    note: NoteOption = None,
    not_after: NotAfterOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
) -> None:
    """Stage a method call for a time (--at) or a window (--window).

    It is listed as waiting until then, and run by the first `queue execute` after.

    Example:

      swamp method schedule binary release --input version=v1.1.0 --at 2026-12-01T09:00:00Z
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import queue as cmd

    call(
        cmd.schedule_method,
        repo_of(ctx),
        model,
        method,
        inputs or [],
        input_files or [],
        at=at,
        window=window,
        not_after=not_after,
        note=note,
        by=by,
        as_json=as_json,
        publish=publish(commit, push),
    )
