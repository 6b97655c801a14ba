"""`swamp ci sync`: the execute workflow's schedule, from swamp.yaml's windows."""

from __future__ import annotations

from pathlib import Path

from swamp import output
from swamp.repo import find_root
from swamp.validate import load_repository


def sync(repo_path: Path | None, *, every: str | None) -> int:
    # start-up time: a command loads only what it runs
    from swamp import ci

    root = find_root() if repo_path is None else repo_path.resolve()
    repo = load_repository(root)
    path, changed = ci.sync(root, repo.config.windows, every)
    rel = path.relative_to(root)
    output.out(f"{'wrote' if changed else 'unchanged:'} the schedule of {rel}")
    return 0
