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


# Every command, in the order `swamp --help` lists them: a name, and how to
# add it to a root.
_COMMANDS: dict[str, Callable[[typer.Typer], object]] = {
    "init": lambda root: root.command()(repo.init),
    "validate": lambda root: root.command()(repo.validate),
    "freeze": lambda root: root.command("freeze")(repo.freeze_command),
    "unfreeze": lambda root: root.command("unfreeze")(repo.unfreeze_command),
    "serve": lambda root: root.command("serve")(serve.serve_command),
    "method": lambda root: root.add_typer(method.app, name="method"),
    "workflow": lambda root: root.add_typer(workflow.app, name="workflow"),
    "queue": lambda root: root.add_typer(queue.app, name="queue"),
    "run": lambda root: root.add_typer(run.app, name="run"),
    "ci": lambda root: root.add_typer(ci.app, name="ci"),
}


def _app(names: Iterable[str] = _COMMANDS) -> typer.Typer:
    root = _root()
    for name in names:
        _COMMANDS[name](root)
    return root


app = _app()


def _invoked(argv: list[str]) -> str | None:
    """The command `argv` names, past the global options; None if it names
    none (`--help`, completion, a typo: the whole app answers those)."""
    args = iter(argv)
    for arg in args:
        if arg in ("-C", "--repo"):
            next(args, None)
        elif not arg.startswith("--repo="):
            return arg if arg in _COMMANDS else None
    return None


def main() -> int:
    # typer turns every command of an app into click's at each start; a
    # command's own app is a fraction of that work (the same options, help
    # and errors: its name is the one the root would dispatch to).
    invoked = _invoked(sys.argv[1:])
    try:
        (app if invoked is None else _app([invoked]))()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
