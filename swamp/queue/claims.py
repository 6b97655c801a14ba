"""Claims: how runners on many machines execute every item exactly once.

Before any side effect, a runner commits its claims (the items it will run,
marked running, with its name and run id) and pushes them. Git refuses a push
that is not a fast-forward, so of two runners that claimed the same item only
one succeeds. The other fetches and rebases: if the rebase is clean, nobody
else touched its items and it pushes again; if it conflicts, it drops its
claim commit, looks at its items again as the remote now has them, skips the
ones another runner holds or finished, and claims the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swamp.gitrepo import OWNED, GitError, Repo
from swamp.queue import items
from swamp.queue.status import status
from swamp.queue.timing import utcnow

if TYPE_CHECKING:
    from swamp.queue.executor import Action, Claimer, Executor, Report

CLAIM_ROUNDS = 8


def claimer(git: Repo, explicit: bool) -> Claimer:
    """A Claimer (see executor.run_all) that claims through `git`."""

    def claim(executor: Executor, actions: list[Action]) -> tuple[list[Action], list[Report]]:
        return claim_and_push(git, executor, actions, explicit)

    return claim


def claim_and_push(
    git: Repo, executor: Executor, actions: list[Action], explicit: bool
) -> tuple[list[Action], list[Report]]:
    """Claim `actions` with a pushed commit; (the actions claimed, reports of
    those another runner took first)."""
    from swamp.queue.executor import Report

    dropped: list[Report] = []
    for _ in range(CLAIM_ROUNDS):
        if not actions:
            return [], dropped
        for action in actions:
            executor.write_claim(action)
        ids = [a.item.id for a in actions]
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
            for action in actions:
                action.item.data["claim"]["commit"] = sha
                action.item.save()
            return _still_valid(executor, actions, dropped)
        git.drop_unpushed()
        kept = []
        for action in actions:
            fresh = items.read_item(action.item.path)
            if fresh is None:
                dropped.append(
                    Report(action.item.id, action.item.target, "skipped", "finished elsewhere")
                )
                action.lock.release()
                continue
            decided = executor.decide(fresh, explicit, action.lock)
            if isinstance(decided, Report):
                decided.outcome = "skipped"
                decided.detail = f"taken by another runner ({decided.detail})".replace(" ()", "")
                dropped.append(decided)
                action.lock.release()
            else:
                kept.append(decided)
        actions = kept
    raise GitError(f"could not claim items in {CLAIM_ROUNDS} rounds (other runners keep pushing)")


def _still_valid(
    executor: Executor, actions: list[Action], dropped: list[Report]
) -> tuple[list[Action], list[Report]]:
    """After a rebase the definitions may have changed: an item that became
    stale is given back (its claim undone, with the result commit)."""
    from swamp.queue.executor import Report
    from swamp.validate import load_repository

    executor.repo = load_repository(executor.repo.root)
    kept = []
    for action in actions:
        changed = items.stale_files(executor.repo, action.item)
        if not changed:
            kept.append(action)
            continue
        executor.give_back(action)
        action.lock.release()
        st = status(executor.repo, action.item, executor.now or utcnow(), active=False)
        dropped.append(Report(action.item.id, action.item.target, "stale", st.detail))
    return kept, dropped


def _runner() -> str:
    from swamp.identity import runner_identity

    return runner_identity()
