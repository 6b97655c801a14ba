"""Claims: how runners on many machines execute every item exactly once.

Before any side effect, a runner commits its claims (the items it will run,
marked running, with its name and run id) and pushes them. Git refuses a push
that is not a fast-forward, so of two runners that claimed the same item only
one succeeds. The other fetches and rebases: if the rebase is clean, nobody
else touched its items and it pushes again; if it conflicts, it drops its
claim commit and reads its items again as the remote now has them.

This module only does the git side of one attempt and says what happened
(`Pushed` or `Lost`); the executor decides what that means for each item
(look again, skip, give back) and how many attempts to make.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swamp import items
from swamp.gitrepo import OWNED, Repo
from swamp.items import Item


@dataclass(frozen=True)
class Pushed:
    """The claims are on origin, in this commit (a rebase may have brought
    other changes along: the definitions may have changed)."""

    commit: str


@dataclass(frozen=True)
class Lost:
    """Origin changed these items meanwhile; the claim commit is dropped.
    Each item as origin has it now (None: no longer queued)."""

    fresh: dict[str, Item | None]


ClaimPush = Callable[[list[Item]], Pushed | Lost]


def pusher(git: Repo) -> ClaimPush:
    """One claim attempt through `git` (see push_claims)."""

    def push(claimed: list[Item]) -> Pushed | Lost:
        return push_claims(git, claimed)

    return push


def push_claims(git: Repo, claimed: list[Item]) -> Pushed | Lost:
    """Commit the claims written into `claimed` and push them, rebasing onto
    what others pushed meanwhile."""
    ids = [item.id for item in claimed]
    sha = git.commit(
        OWNED,
        f"swamp: claim {len(ids)} item{'s' if len(ids) != 1 else ''}",
        [("Swamp-Claim", i) for i in ids] + [("Swamp-Runner", _runner())],
    ) or (
        # Nothing to commit: this very claim is already in HEAD (a resume, in
        # the same second, of a claim this checkout's killed runner left and
        # the leftovers commit recorded). Pushing HEAD establishes it.
        git.head()
    )
    if sha is not None and git.push_rebasing():
        return Pushed(sha)
    git.drop_unpushed()
    return Lost({item.id: items.read_item(item.path) for item in claimed})


def _runner() -> str:
    # start-up time: loaded only on this path
    from swamp.identity import runner_identity

    return runner_identity()
