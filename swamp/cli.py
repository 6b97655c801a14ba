"""The command line: parse arguments, call one function per command.

Heavy libraries (jsonschema, jinja2, git, httpx) are imported by the
commands that need them, never here, so `swamp --help` stays quick.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from swamp import __version__

# typer adds an argument's Python type to the help (`WORKFLOW <str>`,
# `PATH <list[Path]>`); the metavar and the help text already say what to give.
typer.core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]

app = typer.Typer(
    name="swamp",
    help=(
        "swamp: stage risky operational work as reviewed YAML, run it later, "
        "record every result in git.\n\n"
        "Example:\n\n"
        "  swamp validate\n\n"
        "  swamp method run ad-account create --input user=jsmith"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    context_settings={"help_option_names": ["-h", "--help"]},
)
method_app = typer.Typer(
    help="Run a model's method now.\n\nExample:\n\n  swamp method run vpn add-to-group "
    "--input user=jsmith --input group=engineering",
    no_args_is_help=True,
)
workflow_app = typer.Typer(
    help="Run workflows, release held jobs, draw graphs.\n\nExample:\n\n"
    "  swamp workflow run binary-release\n\n  swamp workflow release ship-binary",
    no_args_is_help=True,
)
run_app = typer.Typer(
    help="Inspect and control runs: list, show, resume, pause, stop, retry, delete.\n\n"
    "Example:\n\n  swamp run list --state failed\n\n"
    "  swamp run resume 20261123-020000-db-migration-1a2b3c",
    no_args_is_help=True,
)
queue_app = typer.Typer(
    help="The queue: staged work, listed, executed or purged.\n\nExample:\n\n"
    "  swamp queue list\n\n  swamp queue execute --all\n\n  swamp queue purge --workflow "
    "teardown-dns",
    no_args_is_help=True,
)
app.add_typer(method_app, name="method")
app.add_typer(workflow_app, name="workflow")
app.add_typer(queue_app, name="queue")
app.add_typer(run_app, name="run")
ci_app = typer.Typer(
    help="GitHub Actions: keep the workflows in step with swamp.yaml.\n\nExample:\n\n"
    "  swamp ci sync",
    no_args_is_help=True,
)
app.add_typer(ci_app, name="ci")

_state: dict[str, Path | None] = {"repo": None}

RepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        "-C",
        metavar="PATH",
        help="The swamp repository (default: the nearest folder with swamp.yaml, or $SWAMP_REPO).",
        show_default=False,
    ),
]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        metavar="NAME",
        help="Who is acting, for the record (default: $GITHUB_ACTOR, else git's user.name).",
        show_default=False,
    ),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        min=1,
        metavar="N",
        help="How many independent jobs run at once (default: swamp.yaml defaults, else 4).",
        show_default=False,
    ),
]
NoteOption = Annotated[
    str | None,
    typer.Option(
        "--note", metavar="TEXT", help="Why this is staged, for the reviewer.", show_default=False
    ),
]
NotBeforeOption = Annotated[
    str | None,
    typer.Option(
        "--not-before",
        metavar="TIME",
        help="Do not run before TIME (ISO 8601 such as 2026-11-24T02:00:00Z, or +2h).",
        show_default=False,
    ),
]
NotAfterOption = Annotated[
    str | None,
    typer.Option(
        "--not-after",
        metavar="TIME",
        help="Expire the item if it has not run by TIME.",
        show_default=False,
    ),
]
WindowOption = Annotated[
    str | None,
    typer.Option(
        "--window",
        metavar="NAME",
        help="Run only while this window of swamp.yaml is open.",
        show_default=False,
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Say what would happen; change nothing.")
]
SelAll = Annotated[bool, typer.Option("--all", help="Every item.")]
SelWorkflows = Annotated[bool, typer.Option("--workflows", help="Every workflow item.")]
SelMethods = Annotated[bool, typer.Option("--methods", help="Every method item.")]
SelWorkflow = Annotated[
    str | None,
    typer.Option("--workflow", metavar="NAME", help="Items of this workflow.", show_default=False),
]
SelMethod = Annotated[
    str | None,
    typer.Option(
        "--method",
        metavar="NAME",
        help="Items of this method: a method name (swap) or model.method.",
        show_default=False,
    ),
]
SelItem = Annotated[
    str | None,
    typer.Option(
        "--item",
        metavar="ID",
        help="One item, by id; also resumes a failed one.",
        show_default=False,
    ),
]
RunIdArgument = Annotated[
    str, typer.Argument(help="The run's id, or a unique part of it.", metavar="RUN")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
CommitOption = Annotated[
    bool,
    typer.Option(
        "--commit",
        help="Commit what the command changed (one commit, with Swamp-* trailers). "
        "Refuses a work tree with uncommitted changes to swamp's files.",
    ),
]
PushOption = Annotated[
    bool,
    typer.Option(
        "--push",
        help="Commit and push; fetch and rebase first, and again (a bounded number of "
        "times) when another runner pushed meanwhile.",
    ),
]


def _publish(commit: bool, push: bool) -> Any:
    from swamp.publish import Publish

    return Publish(commit=commit or push, push=push)


InputOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        "-i",
        metavar="NAME=VALUE",
        help="An input as NAME=VALUE (a string), or NAME:json=VALUE for a typed value "
        "(number, list, object). Repeat for several.",
        show_default=False,
    ),
]
RerunUnknownOption = Annotated[
    bool,
    typer.Option(
        "--rerun-unknown",
        help="Run again the steps whose outcome is unknown (in flight when the runner died "
        "or was interrupted), even if not declared idempotent: you checked what they did.",
    ),
]
InputFileOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--input-file",
        metavar="FILE",
        help="A YAML or JSON file mapping input names to values; --input overrides it.",
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"swamp {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    repo: RepoOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _state["repo"] = repo


def _run(func: Callable[..., int], *args: Any, **kwargs: Any) -> None:
    """The one boundary that turns exceptions into messages and exit codes."""
    from swamp.errors import InvalidFiles, SwampError
    from swamp.interrupts import Interrupted, handled

    try:
        with handled():
            code = func(*args, **kwargs)
    except Interrupted as e:
        sys.stderr.write(f"swamp: {e}\n")
        code = e.exit_code
    except InvalidFiles as e:
        from swamp import output

        for p in e.problems:
            output.err(str(p))
        output.error(f"{len(e.problems)} problem(s) in the definitions; nothing was run")
        code = e.exit_code
    except SwampError as e:
        from swamp import output

        output.error(str(e))
        code = e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("swamp: interrupted\n")
        code = 130
    except BrokenPipeError:
        # The reader stopped reading (`| head -1`): not an error of swamp. What
        # is still buffered goes nowhere, so that the exit does not fail again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except OSError as e:
        code = _os_error(e)
    except Exception as e:  # the last resort: no traceback on the terminal
        code = _crash(e)
    finally:
        if "swamp.gitrepo" in sys.modules:  # only if the command used git
            sys.modules["swamp.gitrepo"].close_all()
    raise typer.Exit(code)


# Errors of the machine, not of swamp: a full disk, a read-only folder.
_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
)


def _os_error(e: OSError) -> int:
    """One clear line for what the machine refused; a crash log for the rest."""
    if e.errno not in _ENVIRONMENT_ERRNOS:
        return _crash(e)
    from swamp import output

    where = f"{e.filename}: " if e.filename else ""
    output.error(
        f"{where}{e.strerror or e}; stopped there (free space or fix the permissions, "
        "then run the command again; a run continues with `swamp run resume`)"
    )
    return 1


def _crash(e: Exception) -> int:
    import tempfile
    import traceback

    from swamp import output

    with tempfile.NamedTemporaryFile("w", prefix="swamp-crash-", suffix=".log", delete=False) as f:
        traceback.print_exc(file=f)
    output.error(f"unexpected {type(e).__name__}: {e} (details in {f.name}); please report it")
    return 3


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to create the repository.")] = Path(),
    install: Annotated[
        str | None,
        typer.Option(
            "--install",
            metavar="REQUIREMENT",
            help="What the GitHub workflows pip-install to get swamp (default: how this "
            "swamp was installed: its index version, or its git URL and commit).",
            show_default=False,
        ),
    ] = None,
    branch: Annotated[
        str,
        typer.Option("--branch", metavar="NAME", help="The branch the runner executes on."),
    ] = "main",
    example: Annotated[
        bool, typer.Option("--example/--no-example", help="Write an example model.")
    ] = True,
) -> None:
    """Make a folder a swamp repository.

    Writes swamp.yaml, models/ (with an example model), workflows/, queue/,
    done/, swamp's lines in .gitignore (appended to an existing one), and GitHub
    Actions workflows: swamp-plan.yml (validate and plan pull requests),
    swamp-execute.yml (execute on merge, on the windows' schedule and by hand,
    pushing the results) and swamp-execute-sharded.yml (the same over a matrix
    of shards). Existing files are kept.

    Example:

      swamp init ops-repo

      swamp init . --branch production --install "swamp @ git+https://github.com/acme/swamp@v0.1.0"
    """
    from swamp.commands import init as cmd

    _run(cmd.init, path, install=install, branch=branch, example=example)


@ci_app.command("sync")
def ci_sync(
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
    from swamp.commands import ci as cmd

    _run(cmd.sync, _state["repo"], every=every)


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders to report on (default: the whole repository).",
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every file against its schema and its references.

    Reports every problem, one line each, as path:line:col: message, and exits 1
    if there is any.

    Example:

      swamp validate

      swamp validate workflows/db-migration.yaml --json
    """
    from swamp.commands import validate as cmd

    _run(cmd.validate, _state["repo"], paths or [], as_json=as_json)


@method_app.command("run")
def method_run(
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
    from swamp.commands import method as cmd

    _run(cmd.run, _state["repo"], model, method, inputs or [], input_files or [], as_json=as_json)


@workflow_app.command("run")
def workflow_run(
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
    from swamp.commands import workflow as cmd

    _run(
        cmd.run,
        _state["repo"],
        name,
        inputs or [],
        input_files or [],
        concurrency=concurrency,
        by=by,
        as_json=as_json,
    )


@workflow_app.command("release")
def workflow_release(
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
    from swamp.commands import workflow as cmd

    _run(
        cmd.release,
        _state["repo"],
        job,
        run_id,
        by=by,
        as_json=as_json,
        publish=_publish(commit, push),
        staged=stage,
    )


@workflow_app.command("graph")
def workflow_graph(
    name: Annotated[str, typer.Argument(help="The workflow's name.", metavar="WORKFLOW")],
    fmt: Annotated[
        str, typer.Option("--format", metavar="text|mermaid", help="Output format.")
    ] = "text",
) -> None:
    """Print a workflow's jobs, steps and dependencies.

    Example:

      swamp workflow graph blue-green --format mermaid
    """
    from swamp.commands import workflow as cmd

    _run(cmd.graph, _state["repo"], name, fmt)


@run_app.command("list")
def run_list(
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
    from swamp.commands import run as cmd

    _run(
        cmd.list_runs, _state["repo"], state=state, workflow=workflow, since=since, as_json=as_json
    )


@run_app.command("show")
def run_show(run_id: RunIdArgument, as_json: JsonOption = False) -> None:
    """Show a run: jobs, steps, states, attempts, durations, outputs, output tails.

    Example:

      swamp run show 20261123-020000-db-migration-1a2b3c
    """
    from swamp.commands import run as cmd

    _run(cmd.show, _state["repo"], run_id, as_json=as_json)


@run_app.command("resume")
def run_resume(
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
    from swamp.commands import run as cmd

    _run(
        cmd.resume,
        _state["repo"],
        run_id,
        as_json=as_json,
        publish=_publish(commit, push),
        rerun_unknown=rerun_unknown,
    )


@run_app.command("pause")
def run_pause(run_id: RunIdArgument, as_json: JsonOption = False) -> None:
    """Ask an executing run to pause after the steps in flight.

    Example:

      swamp run pause db-migration-1a2b3c
    """
    from swamp.commands import run as cmd

    _run(cmd.pause, _state["repo"], run_id, as_json=as_json)


@run_app.command("stop")
def run_stop(run_id: RunIdArgument, as_json: JsonOption = False) -> None:
    """Stop a run: terminate the processes in flight and mark it stopped.

    Example:

      swamp run stop db-migration-1a2b3c
    """
    from swamp.commands import run as cmd

    _run(cmd.stop, _state["repo"], run_id, as_json=as_json)


@run_app.command("retry")
def run_retry(
    run_id: RunIdArgument,
    step: Annotated[str, typer.Option("--step", metavar="NAME", help="The step to re-run.")],
    job: Annotated[
        str | None, typer.Option("--job", metavar="JOB", help="The step's job, if ambiguous.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run a run from a step: that step, what follows it, and dependent jobs.

    Example:

      swamp run retry db-migration-1a2b3c --step apply
    """
    from swamp.commands import run as cmd

    _run(cmd.retry, _state["repo"], run_id, step, job, as_json=as_json)


@run_app.command("delete")
def run_delete(run_id: RunIdArgument, as_json: JsonOption = False) -> None:
    """Delete a run that is not executing (its folder under runs/).

    Example:

      swamp run delete db-migration-1a2b3c
    """
    from swamp.commands import run as cmd

    _run(cmd.delete, _state["repo"], run_id, as_json=as_json)


def _selector(
    all_: bool,
    workflows: bool,
    methods: bool,
    workflow: str | None,
    method: str | None,
    item: str | None,
) -> Any:
    from swamp.queue.executor import Selector

    return Selector(all_, workflows, methods, workflow, method, item)


@workflow_app.command("queue")
def workflow_queue(
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
    from swamp.commands import queue as cmd
    from swamp.queue.stage import When

    _run(
        cmd.queue_workflow,
        _state["repo"],
        name,
        inputs or [],
        input_files or [],
        note=note,
        when=When(not_before, not_after, window),
        by=by,
        as_json=as_json,
        publish=_publish(commit, push),
    )


@method_app.command("queue")
def method_queue(
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
    from swamp.commands import queue as cmd
    from swamp.queue.stage import When

    _run(
        cmd.queue_method,
        _state["repo"],
        model,
        method,
        inputs or [],
        input_files or [],
        note=note,
        when=When(not_before, not_after, window),
        by=by,
        as_json=as_json,
        publish=_publish(commit, push),
    )


@method_app.command("schedule")
def method_schedule(
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
    from swamp.commands import queue as cmd

    _run(
        cmd.schedule_method,
        _state["repo"],
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
        publish=_publish(commit, push),
    )


@queue_app.command("list")
def queue_list(
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
    from swamp.commands import queue as cmd

    _run(cmd.list_queue, _state["repo"], as_json=as_json, include_done=include_done)


@queue_app.command("plan")
def queue_plan(
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
    from swamp.commands import plan as cmd

    _run(cmd.plan, _state["repo"], base, "json" if as_json else fmt)


@queue_app.command("execute")
def queue_execute(
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
    from swamp.commands import queue as cmd

    _run(
        cmd.execute,
        _state["repo"],
        _selector(all_, workflows, methods, workflow, method, item),
        dry_run=dry_run,
        concurrency=concurrency,
        by=by,
        as_json=as_json,
        publish=_publish(commit, push),
        shard=shard,
        reclaim=reclaim,
        rerun_unknown=rerun_unknown,
    )


@queue_app.command("purge")
def queue_purge(
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
    from swamp.commands import queue as cmd

    _run(
        cmd.purge_queue,
        _state["repo"],
        _selector(all_, workflows, methods, workflow, method, item),
        dry_run=dry_run,
        as_json=as_json,
        publish=_publish(commit, push),
    )


@queue_app.command("recover")
def queue_recover(
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
    from swamp.commands import queue as cmd

    _run(cmd.recover, _state["repo"], resume=resume)


@app.command("freeze")
def freeze_command(
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why, for everyone.")],
    by: ByOption = None,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
) -> None:
    """Stop all execution: write freeze.yaml. Running runs pause at the next step.

    Example:

      swamp freeze --reason "incident 4711: hands off production"
    """
    from swamp.commands import queue as cmd

    _run(
        cmd.freeze_repo,
        _state["repo"],
        reason=reason,
        by=by,
        as_json=as_json,
        publish=_publish(commit, push),
    )


@app.command("unfreeze")
def unfreeze_command(
    by: ByOption = None,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
) -> None:
    """Lift the freeze: remove freeze.yaml.

    Example:

      swamp unfreeze
    """
    from swamp.commands import queue as cmd

    _run(cmd.unfreeze_repo, _state["repo"], by=by, as_json=as_json, publish=_publish(commit, push))


@app.command("serve")
def serve_command(
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
    from swamp.serve.main import serve

    _run(
        serve,
        _state["repo"],
        bind=bind,
        workers=workers,
        grace=grace,
        pull=pull,
        interval=interval,
        shard=shard,
    )


def main() -> int:
    try:
        app()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
