"""`swamp run`: inspect and control runs.

Each command imports its logic (swamp/commands/) when it is called, so that
start-up and `--help` load none of it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from swamp.cli.boundary import call
from swamp.cli.options import (
    CommitOption,
    JsonOption,
    PushOption,
    RerunUnknownOption,
    RunIdArgument,
    publish,
    repo_of,
)

app = typer.Typer(
    help="Inspect and control runs: list, show, resume, pause, stop, retry, delete.\n\n"
    "Example:\n\n  swamp run list --state failed\n\n"
    "  swamp run resume 20261123-020000-db-migration-1a2b3c",
    no_args_is_help=True,
)


@app.command("list")
def run_list(
    ctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Only runs in this state "
            "(running, held, failed, paused, stopped, succeeded, interrupted).",
        ),
    ] = None,
    workflow: Annotated[
        str | None, typer.Option("--workflow", metavar="NAME", help="Only runs of this target.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Only runs started after TIME (2026-11-23T10:00Z) or within a duration (2h, 1d).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List runs, oldest first.

    Example:

      swamp run list --state held

      swamp run list --since 1d --json
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import run as cmd

    call(cmd.list_runs, repo_of(ctx), state=state, workflow=workflow, since=since, as_json=as_json)


@app.command("show")
def run_show(ctx: typer.Context, run_id: RunIdArgument, as_json: JsonOption = False) -> None:
    """Show a run: jobs, steps, states, attempts, durations, outputs, output tails.

    Example:

      swamp run show 20261123-020000-db-migration-1a2b3c
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import run as cmd

    call(cmd.show, repo_of(ctx), run_id, as_json=as_json)


@app.command("resume")
def run_resume(
    ctx: typer.Context,
    run_id: RunIdArgument,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
    rerun_unknown: RerunUnknownOption = False,
) -> None:
    """Continue a failed, paused, stopped or interrupted run.

    Succeeded steps are not run again; failed steps are. A step that was in
    flight when swamp died, was interrupted or was stopped runs again only if
    it is declared idempotent, or with --rerun-unknown.

    Example:

      swamp run resume 20261123-020000-db-migration-1a2b3c
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import run as cmd

    call(
        cmd.resume,
        repo_of(ctx),
        run_id,
        as_json=as_json,
        publish=publish(commit, push),
        rerun_unknown=rerun_unknown,
    )


@app.command("pause")
def run_pause(ctx: typer.Context, run_id: RunIdArgument, as_json: JsonOption = False) -> None:
    """Ask an executing run to pause after the steps in flight.

    Example:

      swamp run pause db-migration-1a2b3c
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import run as cmd

    call(cmd.pause, repo_of(ctx), run_id, as_json=as_json)


@app.command("stop")
def run_stop(ctx: typer.Context, run_id: RunIdArgument, as_json: JsonOption = False) -> None:
    """Stop a run: terminate the processes in flight and mark it stopped.

    Example:

      swamp run stop db-migration-1a2b3c
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import run as cmd

    call(cmd.stop, repo_of(ctx), run_id, as_json=as_json)


@app.command("retry")
def run_retry(
    ctx: typer.Context,
    run_id: RunIdArgument,
    step: Annotated[str, typer.Option("--step", metavar="NAME", help="The step to re-run.")],
    job: Annotated[
        str | None, typer.Option("--job", metavar="JOB", help="The step's job, if ambiguous.")
    ] = None,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
) -> None:
    """Re-run a run from a step: that step, what follows it, and dependent jobs.

    Example:

      swamp run retry db-migration-1a2b3c --step apply
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import run as cmd

    call(
        cmd.retry,
        repo_of(ctx),
        run_id,
        step,
        job,
        as_json=as_json,
        publish=publish(commit, push),
    )


@app.command("delete")
def run_delete(ctx: typer.Context, run_id: RunIdArgument, as_json: JsonOption = False) -> None:
    """Delete a run that is not executing (its folder under runs/).

    Example:

      swamp run delete db-migration-1a2b3c
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import run as cmd

    call(cmd.delete, repo_of(ctx), run_id, as_json=as_json)
