"""Continuing a run by hand (`run resume`, `run retry`, `workflow release`).

A run that belongs to a queue item goes through what the queue executor
does around the engine: the queue's gate, the item's lock (so the two never
act on the same item at once) and, when the run stops, the item's outcome.
The engine itself knows nothing of items. With --push, once the result is
on origin, the lease a runner left for the run goes too (`release_lease`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swamp.engine import service
from swamp.engine.runs import RunHandle
from swamp.errors import SwampError
from swamp.queue.gate import admit_run
from swamp.queue.outcome import record_outcome
from swamp.queue.status import ItemLock
from swamp.repo import Repository

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
) -> service.RunResult:
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


def release_lease(git: Repo | None, state: RunState) -> None:
    """The result of an item's run continued by hand is on origin (pushed):
    the lease its runner left for this run (stopped by a signal, or dead
    before it let go) holds nothing any more. Best effort, see lease.py."""
    if git is None or state.item is None:
        return
    # start-up time: loaded only with --push
    from swamp.queue.lease import release_run_lease

    release_run_lease(git, state.item, state.id)
