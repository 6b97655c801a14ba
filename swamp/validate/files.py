"""`swamp validate`: the definitions' problems and the queue files', for the paths asked."""

from __future__ import annotations

from pathlib import Path

from swamp.errors import Problem
from swamp.repo import Repository, definition_files
from swamp.validate.config import schedule_problems
from swamp.validate.queue_files import item_problems


def validate_paths(repo: Repository, paths: list[Path]) -> list[Problem]:
    """Problems in the given files or folders (all of them when none given)."""
    problems = [*repo.problems, *repo.warnings]
    queue_files: list[Path] = []
    for folder in ("queue", "done"):
        queue_files += definition_files(repo.root, folder)
    for path in queue_files:
        problems += item_problems(repo, path)
    problems += schedule_problems(repo)
    if paths:
        wanted = [repo.rel(p).rstrip("/") for p in paths]
        problems = [
            p for p in problems if any(p.file == w or p.file.startswith(w + "/") for w in wanted)
        ]
    return sorted(set(problems))
