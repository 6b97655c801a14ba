"""`swamp queue`: list, plan, execute, purge and recover staged work.

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
    DryRunOption,
    JsonOption,
    PushOption,
    RerunUnknownOption,
    SelAll,
    SelItem,
    SelMethod,
    SelMethods,
    SelWorkflow,
    SelWorkflows,
    publish,
    repo_of,
    selector,
)

app = typer.Typer(
    help="The queue: staged work, listed, executed or purged.\n\nExample:\n\n"
    "  swamp queue list\n\n  swamp queue execute --all\n\n  swamp queue purge --workflow "
    "teardown-dns",
    no_args_is_help=True,
)


@app.command("list")
def queue_list(
    ctx: typer.Context,
    include_done: Annotated[bool, typer.Option("--done", help="Include finished items.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List staged items: id, kind, target, inputs, state, who requested and when.

    States: queued, waiting (time or window), running, held, failed, expired,
    stale (a definition changed since review). With --done, finished items
    are succeeded, or unverified when no run journal confirms the record.

    Example:

      swamp queue list

      swamp queue list --json
    """
    # start-up time: a command loads only what it runs
    from swamp.commands.queue_list import list_queue

    call(list_queue, repo_of(ctx), as_json=as_json, include_done=include_done)


@app.command("plan")
def queue_plan(
    ctx: typer.Context,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="REF",
            help="Compare with this revision (default: the pull request's base in "
            "GitHub Actions, else origin/HEAD, origin/main or main).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", metavar="text|markdown|json", help="Output format.")
    ] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (as --format json).")] = False,
) -> None:
    """Show what a change would do, for review: items added, changed or removed.

    Each item is validated and shown as the steps it will run, with arguments
    rendered (secrets masked) and the workflow's graph; definitions the change
    alters under queued items are listed. Exit 1 if anything is invalid. In
    GitHub Actions the markdown also goes to the job summary.

    Example:

      swamp queue plan --base origin/main

      swamp queue plan --format markdown > plan.md
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import plan as cmd

    call(cmd.plan, repo_of(ctx), base, "json" if as_json else fmt)


@app.command("execute")
def queue_execute(
    ctx: typer.Context,
    all_: SelAll = False,
    workflows: SelWorkflows = False,
    methods: SelMethods = False,
    workflow: SelWorkflow = None,
    method: SelMethod = None,
    item: SelItem = None,
    dry_run: DryRunOption = False,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            metavar="N",
            help="Items run at once (default 1).",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="i/N",
            help="Only this runner's share of the items: a deterministic, disjoint 1/N "
            "(for a GitHub Actions matrix of N runners).",
            show_default=False,
        ),
    ] = None,
    reclaim: Annotated[
        bool,
        typer.Option(
            "--reclaim",
            help="With --item: take over an item whose runner died (a stale claim), "
            "resuming its run where it stopped.",
        ),
    ] = False,
    rerun_unknown: RerunUnknownOption = False,
) -> None:
    """Execute selected items: succeeded ones move to done/ with their result.

    Held and failed items stay in queue/ and are never re-run by --all; items
    whose time has not come wait; stale items are refused. Exit 1 if any failed.
    With --push the runner first claims its items with a pushed commit, so that
    runners on other machines never execute the same item.

    Example:

      swamp queue execute --all

      swamp queue execute --all --commit --push --shard 2/4

      swamp queue execute --method swap

      swamp queue execute --workflow teardown-compute --dry-run
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import queue as cmd

    call(
        cmd.execute,
        repo_of(ctx),
        selector(all_, workflows, methods, workflow, method, item),
        dry_run=dry_run,
        concurrency=concurrency,
        by=by,
        as_json=as_json,
        publish=publish(commit, push),
        shard=shard,
        reclaim=reclaim,
        rerun_unknown=rerun_unknown,
    )


@app.command("purge")
def queue_purge(
    ctx: typer.Context,
    all_: SelAll = False,
    workflows: SelWorkflows = False,
    methods: SelMethods = False,
    workflow: SelWorkflow = None,
    method: SelMethod = None,
    item: SelItem = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
) -> None:
    """Remove selected items from the queue (a held or failed item's run is cancelled).

    A running item cannot be purged.

    Example:

      swamp queue purge --all

      swamp queue purge --workflow teardown-dns --dry-run
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import queue as cmd

    call(
        cmd.purge_queue,
        repo_of(ctx),
        selector(all_, workflows, methods, workflow, method, item),
        dry_run=dry_run,
        as_json=as_json,
        publish=publish(commit, push),
    )


@app.command("recover")
def queue_recover(
    ctx: typer.Context,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Also continue the items a runner of this checkout was running when "
            "it was interrupted (their succeeded steps are not run again).",
        ),
    ] = False,
) -> None:
    """Land the results a runner could not push, and push what it left here.

    Results kept on refs/swamp/results/ (here or on origin) are pushed to the
    branch without running anything again; what an interrupted runner of this
    checkout left is committed and pushed. Needs a git remote.

    Example:

      swamp queue recover

      swamp queue recover --resume
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import queue as cmd

    call(cmd.recover, repo_of(ctx), resume=resume)
