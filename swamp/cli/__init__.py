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


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"swamp {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    repo_path: RepoOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = Globals(repo=repo_path)


# In the order `swamp --help` lists them.
app.command()(repo.init)
app.command()(repo.validate)
app.command("freeze")(repo.freeze_command)
app.command("unfreeze")(repo.unfreeze_command)
app.command("serve")(serve.serve_command)
app.add_typer(method.app, name="method")
app.add_typer(workflow.app, name="workflow")
app.add_typer(queue.app, name="queue")
app.add_typer(run.app, name="run")
app.add_typer(ci.app, name="ci")


def main() -> int:
    try:
        app()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
