"""What several commands share: their options, and the global ones.

The global options (`--repo`) are parsed by the main callback into a
`Globals` kept in typer's context (`ctx.obj`), where each command finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from swamp.publish import Publish
    from swamp.queue.selection import Selector


@dataclass(frozen=True)
class Globals:
    """The options given before the command."""

    repo: Path | None = None


def repo_of(ctx: typer.Context) -> Path | None:
    """The --repo given to `swamp`, from the context the main callback filled."""
    found = ctx.find_object(Globals)
    return None if found is None else found.repo


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


def publish(commit: bool, push: bool) -> Publish:
    """--push implies --commit."""
    # start-up time: a command loads only what it runs
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


def selector(
    all_: bool,
    workflows: bool,
    methods: bool,
    workflow: str | None,
    method: str | None,
    item: str | None,
) -> Selector:
    # start-up time: a command loads only what it runs
    from swamp.queue.selection import Selector

    return Selector(all_, workflows, methods, workflow, method, item)
