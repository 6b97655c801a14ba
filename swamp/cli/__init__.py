"""The command line: parse arguments, call one function per command.

Each command group has its module here (`method`, `workflow`, `run`,
`queue`, `ci`, `serve`, and `repo` for init, validate, freeze and unfreeze),
whose typer functions convert arguments and call the plain function in
swamp/commands/ through the one error boundary (`boundary.call`).

Heavy libraries (jsonschema, jinja2, git, httpx, pydantic) are imported by
the commands that need them, never here, so `swamp --help` and `swamp queue
list` stay quick.
"""

from __future__ import annotations

import copy
import functools
import sys
from collections.abc import Callable, Iterable
from typing import Annotated

import typer

from swamp import __version__
from swamp.cli import values

values.install()

# typer adds an argument's Python type to the help (`WORKFLOW <str>`,
# `PATH <list[Path]>`); the metavar and the help text already say what to give.
typer.core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]

# After the two lines above: the commands' options are built with them.
from swamp.cli import ci, method, queue, repo, run, serve, workflow  # noqa: E402
from swamp.cli.options import Globals, RepoOption  # noqa: E402


def _root() -> typer.Typer:
    root = typer.Typer(
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
        # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
        add_completion=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    root.callback()(_main)
    return root


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"swamp {__version__}\n")
        raise typer.Exit()


def _main(
    ctx: typer.Context,
    repo_path: RepoOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = Globals(repo=repo_path)


# The command groups (a command line names one of their commands: `queue list`).
_GROUPS: dict[str, typer.Typer] = {
    "method": method.app,
    "workflow": workflow.app,
    "queue": queue.app,
    "run": run.app,
    "ci": ci.app,
}


def _add_group(root: typer.Typer, name: str) -> None:
    root.add_typer(_GROUPS[name], name=name)


# Every command, in the order `swamp --help` lists them: a name, and how to
# add it to a root.
_COMMANDS: dict[str, Callable[[typer.Typer], object]] = {
    "init": lambda root: root.command()(repo.init),
    "validate": lambda root: root.command()(repo.validate),
    "freeze": lambda root: root.command("freeze")(repo.freeze_command),
    "unfreeze": lambda root: root.command("unfreeze")(repo.unfreeze_command),
    "serve": lambda root: root.command("serve")(serve.serve_command),
    **{name: functools.partial(_add_group, name=name) for name in _GROUPS},
}


def _app(names: Iterable[str] = _COMMANDS) -> typer.Typer:
    root = _root()
    for name in names:
        _COMMANDS[name](root)
    return root


app = _app()


def _invoked_at(argv: list[str]) -> int | None:
    """Where in `argv` the command is, past the global options; None if it
    names none (`--help`, completion, a typo: the whole app answers those)."""
    skip = False
    for at, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in ("-C", "--repo"):
            skip = True
        elif not arg.startswith("--repo="):
            return at if arg in _COMMANDS else None
    return None


def _command_app(argv: list[str], at: int) -> typer.Typer:
    """The app of the command at argv[at] alone; of a group, with only the
    command of it that follows (`queue list`), when it has one by that name
    (else the whole group says what exists)."""
    name = argv[at]
    group = _GROUPS.get(name)
    wanted = argv[at + 1] if at + 1 < len(argv) else None
    chosen = [] if group is None else [c for c in group.registered_commands if c.name == wanted]
    if group is None or len(chosen) != 1:
        return _app([name])
    narrowed = copy.copy(group)
    narrowed.registered_commands = chosen
    root = _root()
    root.add_typer(narrowed, name=name)
    return root


def main() -> int:
    # typer turns every command of an app into click's at each start; a
    # command's own app is a fraction of that work (the same options, help
    # and errors: its name is the one the root would dispatch to).
    argv = sys.argv[1:]
    at = _invoked_at(argv)
    try:
        (app if at is None else _command_app(argv, at))()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
