"""`--commit` and `--push`: how a command records its work in git.

A command that changes files first commits what an interrupted runner of
this checkout left (see queue/results.py), refuses a work tree with other
uncommitted changes to swamp's files (so that it commits only its own work) and, with
--push, fetches and rebases so it acts on the latest state. Afterwards it
commits what it changed under swamp's paths as one commit and pushes it,
rebasing and retrying when another runner pushed first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swamp.gitrepo import Repo
    from swamp.repo import Repository

Trailers = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Publish:
    commit: bool = False
    push: bool = False

    @property
    def enabled(self) -> bool:
        return self.commit or self.push


NONE = Publish()


def prepare(root: Path, publish: Publish) -> Repo | None:
    """Check the work tree (and sync it, with --push) before the command acts."""
    if not publish.enabled:
        return None
    # start-up time: loaded only on this path
    from swamp.gitrepo import RebaseConflict, Repo
    from swamp.queue.results import keep_leftovers

    git = Repo(root)
    keep_leftovers(git, root)  # an interrupted runner's files never block a command
    git.require_clean()
    if publish.push:
        try:
            git.sync()
        except RebaseConflict:
            # start-up time: loaded only on this path
            from swamp import output
            from swamp.queue.results import RECOVER, strand_unpushed

            # Kept aside, so that this checkout works again at once.
            ref = strand_unpushed(git)
            output.err(
                f"swamp: warning: this checkout's unpushed commits conflict with origin; "
                f"they are kept at {ref} and the branch now follows origin "
                f"(land them with `{RECOVER}`)"
            )
        if git.unpushed():  # results committed by a runner that died before its push
            git.push()
    return git


def record(
    git: Repo | None, publish: Publish, subject: str, trailers: Trailers = (), body: str = ""
) -> str | None:
    """Commit what the command changed under swamp's paths (and push it)."""
    if git is None:
        return None
    # start-up time: loaded only on this path
    from swamp.gitrepo import OWNED

    sha = git.commit(OWNED, subject, trailers, body)
    if sha and publish.push:
        git.push()
    return sha


def open_repo(repo_path: Path | None, publish: Publish) -> tuple[Repository, Repo | None]:
    """Find the repository, prepare git (with --commit/--push), then load it,
    so that a pushed command acts on the latest definitions and queue."""
    # start-up time: loaded only on this path
    from swamp.repo import find_root
    from swamp.validate import load_repository

    root = find_root() if repo_path is None else repo_path.resolve()
    git = prepare(root, publish)
    return load_repository(root), git
