"""Continuing a run by hand (`run resume`, `run retry`, `workflow release`).

A run that belongs to a queue item goes through what the queue executor
does around the engine: the queue's gate, the item's lock (so the two never
act on the same item at once) and, when the run stops, the item's outcome.
The engine itself knows nothing of items.

With --push the item is also claimed on origin before its run goes on, and
leased while it runs, as `queue execute --push` does (see claims.py and
lease.py): elsewhere it shows as running, no runner starts it a second
time, and a freeze pushed from anywhere pauses it. Once its result is on
origin, the lease goes (`release_lease`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, assert_never

from swamp import items
from swamp.engine import service
from swamp.engine.runs import RunHandle
from swamp.errors import SwampError
from swamp.items import Item, ItemState
from swamp.queue.decision import Action
from swamp.queue.gate import admit_run
from swamp.queue.outcome import record_outcome
from swamp.queue.status import DisplayState, ItemLock, claim_status
from swamp.repo import Repository
from swamp.timing import utcnow

if TYPE_CHECKING:
    from swamp.engine.state import RunState
    from swamp.gitrepo import Repo


def resume(
    repo: Repository,
    handle: RunHandle,
    *,
    quiet: bool = False,
    retrying: bool = False,
    rerun_unknown: bool = False,
    git: Repo | None = None,
) -> service.RunResult:
    """Continue `handle`; `git` (with --push) claims and leases its item on origin."""
    item = handle.state.item
    if item is None:
        return service.resume(
            repo, handle, quiet=quiet, retrying=retrying, rerun_unknown=rerun_unknown
        )
    service.refuse_if_frozen(repo)
    try:
        admit_run(repo, handle.state)
    except SwampError:
        handle.journal.close()
        raise
    item_lock = ItemLock(repo.root, item)
    if not item_lock.try_acquire():
        handle.journal.close()
        raise SwampError(
            f"queue item {item} is being executed by another process; "
            "try again when it has finished"
        )
    try:
        try:
            on_origin = _claimed(repo, git, item, handle.id, item_lock)
        except SwampError:
            handle.journal.close()
            raise
        with on_origin:
            result = service.resume(
                repo,
                handle,
                quiet=quiet,
                retrying=retrying,
                item_locked=True,
                rerun_unknown=rerun_unknown,
            )
        record_outcome(repo.root, result.state)
    finally:
        item_lock.release()
    return result


def _claimed(
    repo: Repository, git: Repo | None, item_id: str, run_id: str, lock: ItemLock
) -> contextlib.AbstractContextManager[None]:
    """With --push: claim the item on origin now (SwampError if another
    runner holds it or took it meanwhile); what keeps its lease while the
    run goes on. Without: nothing to do."""
    if git is None:
        return contextlib.nullcontext()
    # start-up time: loaded only with --push
    from swamp.queue.claims import Lost, Pushed, push_claims
    from swamp.queue.running import write_claim

    item = refuse_if_claimed_elsewhere(repo, git, item_id)
    action = Action(item, "resume", run_id, lock, item.fields())
    write_claim(repo.root, action)
    match push_claims(git, [item]):
        case Pushed(commit):
            item.set_claim_commit(commit)
            item.save()
        case Lost():
            raise SwampError(
                f"queue item {item_id} changed on origin while it was being claimed "
                "(another runner took it?); nothing ran: see `swamp queue list`"
            )
    return _leased(repo, action)


def refuse_if_claimed_elsewhere(repo: Repository, git: Repo, item_id: str) -> Item:
    """The item, unless a claim of another runner holds it (SwampError): a
    live one, or a silent one, which only `--reclaim` takes over (it checks
    the lease and starts from its checkpoint)."""
    # start-up time: loaded only with --push
    from swamp.queue.lease import renewals

    item = items.existing(repo.root, item_id)
    if item is None:  # admit_run found it a moment ago
        raise SwampError(f"queue item {item_id} is no longer in queue/; nothing ran")
    if item.state != ItemState.RUNNING:
        return item
    held = claim_status(repo, item, utcnow(), False, renewals(git).get(item_id))
    match held.state:
        case DisplayState.RUNNING | DisplayState.STALE_CLAIM:
            raise SwampError(f"queue item {item_id} is claimed elsewhere: {held.detail}")
        case DisplayState.INTERRUPTED:  # claimed here, and its runner is gone
            return item
        case _:
            assert_never(held.state)


@contextlib.contextmanager
def _leased(repo: Repository, action: Action) -> Iterator[None]:
    """The item's lease renewed (and origin's freeze watched) while its run goes on."""
    # start-up time: loaded only with --push
    from swamp.queue.lease import Keeper

    keeper = Keeper(repo.root, repo.config.claim_timeout)
    keeper.start()
    try:
        with keeper.watch(action):
            yield
    finally:
        keeper.stop()


def release_lease(git: Repo | None, state: RunState) -> None:
    """The result of an item's run continued by hand is on origin (pushed):
    the lease its runner left for this run (stopped by a signal, or dead
    before it let go) holds nothing any more. Best effort, see lease.py."""
    if git is None or state.item is None:
        return
    # start-up time: loaded only with --push
    from swamp.queue.lease import release_run_lease

    release_run_lease(git, state.item, state.id)
