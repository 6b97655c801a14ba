"""Commands on the repository as a whole: `swamp init`, `validate`, `freeze`, `unfreeze`.

Each command imports its logic (swamp/commands/) when it is called, so that
start-up and `--help` load none of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swamp.cli.boundary import call
from swamp.cli.options import (
    ByOption,
    CommitOption,
    JsonOption,
    PushOption,
    publish,
    repo_of,
)


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
    # start-up time: a command loads only what it runs
    from swamp.commands import init as cmd

    call(cmd.init, path, install=install, branch=branch, example=example)


def validate(
    ctx: typer.Context,
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
    # start-up time: a command loads only what it runs
    from swamp.commands import validate as cmd

    call(cmd.validate, repo_of(ctx), paths or [], as_json=as_json)


def freeze_command(
    ctx: typer.Context,
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
    # start-up time: a command loads only what it runs
    from swamp.commands import queue as cmd

    call(
        cmd.freeze_repo,
        repo_of(ctx),
        reason=reason,
        by=by,
        as_json=as_json,
        publish=publish(commit, push),
    )


def unfreeze_command(
    ctx: typer.Context,
    by: ByOption = None,
    as_json: JsonOption = False,
    commit: CommitOption = False,
    push: PushOption = False,
) -> None:
    """Lift the freeze: remove freeze.yaml.

    Example:

      swamp unfreeze
    """
    # start-up time: a command loads only what it runs
    from swamp.commands import queue as cmd

    call(cmd.unfreeze_repo, repo_of(ctx), by=by, as_json=as_json, publish=publish(commit, push))
