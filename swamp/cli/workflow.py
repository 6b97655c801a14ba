"""`swamp workflow`: run, queue, release held jobs, draw graphs.

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
    ConcurrencyOption,
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
    help="Run workflows, release held jobs, draw graphs.\n\nExample:\n\n"
    "  swamp workflow run binary-release\n\n  swamp workflow release ship-binary",
    no_args_is_help=True,
)


@app.command("run")
def workflow_run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The workflow's name.", metavar="WORKFLOW")],
    inputs: InputOption = None,
    input_files: InputFileOption = None,
    concurrency: ConcurrencyOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a workflow now, journaling every step under runs/<run-id>/.

    Stops before a job on hold and prints the command that releases it (exit 0).
    A failure leaves the run resumable with `swamp run resume`.

    Example:

      swamp workflow run db-migration --input version:json=43

      swamp workflow run smoke-tests --input env=green --json
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import workflow as cmd

    call(
        cmd.run,
        repo_of(ctx),
        name,
        inputs or [],
        input_files or [],
        concurrency=concurrency,
        by=by,
        as_json=as_json,
    )


@app.command("release")
def workflow_release(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The held job to release.", metavar="JOB")],
    run_id: Annotated[
        str | None,
        typer.Option("--run", metavar="RUN", help="The run (needed when several hold the job)."),
    ] = None,
    by: ByOption = None,
    stage: Annotated[
        bool,
        typer.Option(
            "--stage",
            help="Do not run now: record the release in the held queue item, for review; "
            "the runner's next `queue execute` performs it.",
        ),
    ] = False,
    commit: CommitOption = False,
    push: PushOption = False,
    as_json: JsonOption = False,
) -> None:
    """Release a job on hold and continue its run.

    Records who released it and when. Other held jobs of the run stay held.
    With --stage the release is written into the held queue item instead, to be
    reviewed in a pull request and performed by the runner after the merge.

    Example:

      swamp workflow release ship-binary

      swamp workflow release ship-binary --stage --commit

      swamp workflow release swap --run 20261123-020000-blue-green-1a2b3c --by alice
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import workflow as cmd

    call(
        cmd.release,
        repo_of(ctx),
        job,
        run_id,
        by=by,
        as_json=as_json,
        publish=publish(commit, push),
        staged=stage,
    )


@app.command("graph")
def workflow_graph(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The workflow's name.", metavar="WORKFLOW")],
    fmt: Annotated[
        str, typer.Option("--format", metavar="text|mermaid", help="Output format.")
    ] = "text",
) -> None:
    """Print a workflow's jobs, steps and dependencies.

    Example:

      swamp workflow graph blue-green --format mermaid
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import workflow as cmd

    call(cmd.graph, repo_of(ctx), name, fmt)


@app.command("queue")
def workflow_queue(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The workflow's name.", metavar="WORKFLOW")],
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
    """Stage a workflow run as a file under queue/, for review and later execution.

    Everything `swamp validate` checks is checked first. The same workflow with
    the same inputs can be queued once.

    Example:

      swamp workflow queue db-migration --input version:json=43 --window change-window
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import queue as cmd
    from swamp.queue.stage import When

    call(
        cmd.queue_workflow,
        repo_of(ctx),
        name,
        inputs or [],
        input_files or [],
        note=note,
        when=When(not_before, not_after, window),
        by=by,
        as_json=as_json,
        publish=publish(commit, push),
    )
