from __future__ import annotations

import json
import os
from pathlib import Path

from swamp import output
from swamp.errors import SwampError, UsageError
from swamp.repo import find_root
from swamp.validate import load_repository

FORMATS = ("text", "markdown", "json")


def default_base(git: object) -> str:
    """The pull request's base in GitHub Actions, else origin/HEAD, origin/main, main."""
    # start-up time: a command loads only what it runs
    from swamp.gitrepo import Repo

    assert isinstance(git, Repo)
    candidates = []
    if os.environ.get("GITHUB_BASE_REF"):
        candidates.append(f"origin/{os.environ['GITHUB_BASE_REF']}")
    candidates += ["origin/HEAD", "origin/main", "origin/master", "main", "master"]
    for ref in candidates:
        if git.resolve(ref) is not None:
            return ref
    raise SwampError("cannot tell what to compare with; pass --base REF (such as origin/main)")


def plan(repo_path: Path | None, base: str | None, fmt: str) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    # start-up time: a command loads only what it runs
    from swamp.gitrepo import Repo
    from swamp.plan import compute, render

    root = find_root() if repo_path is None else repo_path.resolve()
    git = Repo(root)
    repo = load_repository(root)
    result = compute.make_plan(repo, git, base or default_base(git))
    markdown = render.as_markdown(result)
    render.write_step_summary(markdown)
    if fmt == "json":
        output.out(json.dumps(render.as_dict(result), indent=2, default=str))
    elif fmt == "markdown":
        output.out(markdown)
    else:
        output.out(render.as_text(result))
    return 1 if result.invalid else 0
