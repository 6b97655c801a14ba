"""Reporting like a GitHub-native tool, when running inside GitHub Actions:
file annotations for problems (workflow commands on stdout) and the job
summary (the file $GITHUB_STEP_SUMMARY names)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from swamp import secrets
from swamp.engine.state import RunStatus

if TYPE_CHECKING:
    from swamp.errors import Problem
    from swamp.queue.decision import Report


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _data(text: str) -> str:
    # The escaping of GitHub's workflow commands (actions/toolkit's escapeData).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(problem: Problem) -> str:
    """`::error file=…,line=…,col=…::message` for one problem."""
    level = "warning" if problem.severity == "warning" else "error"
    return (
        f"::{level} file={_property(problem.file)},line={problem.line},col={problem.column}"
        f"::{_data(secrets.mask_text(problem.message))}"
    )


def annotation_lines(problems: Iterable[Problem]) -> list[str]:
    return [annotation(p) for p in problems]


def _cell(text: str) -> str:
    return secrets.mask_text(text).replace("|", "\\|").replace("\n", " ")


def execute_summary(reports: Sequence[Report], *, dry_run: bool) -> str:
    """The markdown of an execute run: every item, its outcome, run and holds."""
    title = "## swamp queue execute" + (" (dry run)" if dry_run else "")
    if not reports:
        return f"{title}\n\nNothing was due.\n"
    lines = [title, "", "| item | target | outcome | run | detail |", "|---|---|---|---|---|"]
    for r in reports:
        lines.append(
            f"| `{r.item}` | `{_cell(r.target)}` | **{r.outcome}** | "
            f"{f'`{r.run}`' if r.run else ''} | {_cell(r.detail)} |"
        )
    held = [r for r in reports if r.outcome == RunStatus.HELD]
    if held:
        lines += ["", "### Holds", ""]
        for r in held:
            lines.append(
                f"- `{r.item}` (`{_cell(r.target)}`): {_cell(r.detail)}. Release it with a "
                f"reviewed change: `swamp workflow release JOB --run {r.run} --stage --commit`"
            )
    return "\n".join(lines) + "\n"


def append_summary(markdown: str) -> Path | None:
    """Append to the job summary, when there is one."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as f:
        f.write(markdown)
    return path
