"""Executing queued items: the order of work, and claims.

`execute` works in three phases: decide what each selected item needs
(run, resume, or nothing yet, and why: `decision`), claim the items it will
run (with --push, a pushed commit, in rounds against other runners; see
`claims`), then run them through the engine (`running`). Each item is
locked on this machine from the decision to the end of its run, so two
executors on one checkout never run the same item.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from swamp import items
from swamp.errors import SwampError
from swamp.items import Item
from swamp.queue import decision
from swamp.queue.claims import ClaimPush, Lost, Pushed
from swamp.queue.decision import Action, Report
from swamp.queue.running import Around, give_back, run_action, write_claim
from swamp.queue.selection import Selector
from swamp.queue.status import DisplayState, Disposition, ItemLock, status
from swamp.repo import Repository
from swamp.timing import utcnow

if TYPE_CHECKING:
    from swamp.approval import Approvals


# Claim attempts before giving up while other runners keep pushing.
CLAIM_ROUNDS = 8


@dataclass
class Executor:
    repo: Repository
    by: str
    dry_run: bool = False
    quiet: bool = False
    reclaim: bool = False
    rerun_unknown: bool = False  # the operator checked steps whose outcome is unknown
    approvals: Approvals | None = None
    # Without claims each item is judged when it is reached (a window may
    # close, a notBefore pass, while earlier items run); tests may fix the clock.
    now: datetime | None = None
    on_report: Callable[[Report], None] | None = None
    # With --push: kept around each run (the lease, see lease.py), and told
    # each outcome as it is known (its result is pushed, see results.py).
    around: Around | None = None
    after: Callable[[Action, Report], Report] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Origin's lease renewals, fetched once, when an item claimed elsewhere is
    # first decided (see decision.decide).
    _leases: dict[str, str] | None = field(default=None, init=False, repr=False)
    _leases_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def run_all(
        self,
        chosen: Iterable[Item],
        selector: Selector,
        concurrency: int,
        claim: ClaimPush | None = None,
    ) -> list[Report]:
        """Reports in the order of `chosen`, each told as soon as it is known.

        With `claim` (one attempt to push claims, see claims.py), every item is
        decided first and the ones to run are claimed together before any of
        them starts.
        """
        todo = list(chosen)
        if claim is None:
            return self._each(
                todo, lambda item: self._decide_and_run(item, selector.explicit), concurrency
            )
        reports: list[Report] = []
        actions: list[Action] = []
        for item in todo:
            decided = self.prepare(item, selector.explicit)
            if isinstance(decided, Report):
                reports.append(self._report(decided))
            else:
                actions.append(decided)
        try:
            if actions:
                actions, dropped = self._claim(claim, actions, selector.explicit)
                reports += [self._report(r) for r in dropped]
            reports += self._each(actions, self.run, concurrency)
        finally:
            for action in actions:
                action.lock.release()
        return reports

    def _claim(
        self, push: ClaimPush, actions: list[Action], explicit: bool
    ) -> tuple[list[Action], list[Report]]:
        """Claim `actions` with a pushed commit; (the actions claimed, reports
        of those another runner took first or that became stale)."""
        dropped: list[Report] = []
        for _ in range(CLAIM_ROUNDS):
            if not actions:
                return [], dropped
            for action in actions:
                write_claim(self.repo.root, action)
            match push([a.item for a in actions]):
                case Pushed(commit):
                    for action in actions:
                        action.item.set_claim_commit(commit)
                        action.item.save()
                    return self._still_valid(actions, dropped)
                case Lost(fresh):
                    actions = self._look_again(actions, fresh, explicit, dropped)
        raise SwampError(
            f"could not claim items in {CLAIM_ROUNDS} rounds (other runners keep pushing)"
        )

    def _look_again(
        self,
        actions: list[Action],
        fresh: dict[str, Item | None],
        explicit: bool,
        dropped: list[Report],
    ) -> list[Action]:
        """After a lost claim: decide again on each item as origin has it now."""
        kept = []
        for action in actions:
            item = fresh.get(action.item.id)
            if item is None:
                dropped.append(
                    Report(
                        action.item.id,
                        action.item.target,
                        Disposition.SKIPPED,
                        "finished elsewhere",
                    )
                )
                action.lock.release()
                continue
            decided = self.decide(item, explicit, action.lock)
            if isinstance(decided, Report):
                decided.outcome = Disposition.SKIPPED
                decided.detail = f"taken by another runner ({decided.detail})".replace(" ()", "")
                dropped.append(decided)
                action.lock.release()
            else:
                kept.append(decided)
        return kept

    def _still_valid(
        self, actions: list[Action], dropped: list[Report]
    ) -> tuple[list[Action], list[Report]]:
        """The rebase under the pushed claims may have changed definitions: an
        item that became stale is given back (its claim undone, with the
        result commit)."""
        # start-up time: loaded only on this path
        from swamp.validate import load_repository

        self.repo = load_repository(self.repo.root)
        kept = []
        for action in actions:
            if not items.stale_files(self.repo, action.item):
                kept.append(action)
                continue
            give_back(action)
            action.lock.release()
            st = status(self.repo, action.item, self.now or utcnow(), active=False)
            dropped.append(
                Report(action.item.id, action.item.target, DisplayState.STALE, st.detail)
            )
        return kept, dropped

    def _each(
        self, todo: list[Any], work: Callable[[Any], Report], concurrency: int
    ) -> list[Report]:
        if concurrency <= 1 or len(todo) <= 1:
            return [self._report(work(t)) for t in todo]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = {pool.submit(work, t): n for n, t in enumerate(todo)}
            reports: list[Report | None] = [None] * len(todo)
            pending = set(futures)
            while pending:
                # With a timeout: a signal the kernel hands to another thread
                # runs its Python handler (Ctrl-C) only once this thread wakes.
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in done:
                    reports[futures[f]] = self._report(f.result())
        return [r for r in reports if r is not None]

    def _report(self, report: Report) -> Report:
        if self.on_report:
            with self.lock:
                self.on_report(report)
        return report

    def _decide_and_run(self, item: Item, explicit: bool) -> Report:
        decided = self.prepare(item, explicit)
        if isinstance(decided, Report):
            return decided
        try:
            write_claim(self.repo.root, decided)
            return self.run(decided)
        finally:
            decided.lock.release()

    def prepare(self, item: Item, explicit: bool) -> Action | Report:
        """Lock the item and decide; the lock is kept only if it will run."""
        lock = ItemLock(self.repo.root, item.id)
        if not lock.try_acquire():
            return Report(
                item.id, item.target, Disposition.SKIPPED, "being executed by another process"
            )
        fresh = items.read_item(item.path)
        decided: Action | Report
        if fresh is None:  # finished by another process meanwhile
            decided = Report(item.id, item.target, Disposition.SKIPPED, "no longer queued")
        else:
            decided = self.decide(fresh, explicit, lock)
        if isinstance(decided, Report):
            lock.release()
        return decided

    def decide(self, item: Item, explicit: bool, lock: ItemLock) -> Action | Report:
        """What `item` needs now (see decision.decide), by this executor's options."""
        return decision.decide(
            self.repo,
            item,
            lock,
            self.now or utcnow(),
            explicit=explicit,
            reclaim=self.reclaim,
            dry_run=self.dry_run,
            approvals=self.approvals,
            leases=self._renewals,
        )

    def _renewals(self) -> dict[str, str]:
        with self._leases_lock:
            if self._leases is None:
                # start-up time: git only when an item is claimed elsewhere
                from swamp.queue.lease import renewals_at

                self._leases = renewals_at(self.repo.root)
            return self._leases

    def run(self, action: Action) -> Report:
        report = run_action(
            self.repo,
            action,
            by=self.by,
            quiet=self.quiet,
            rerun_unknown=self.rerun_unknown,
            around=self.around,
        )
        return self.after(action, report) if self.after is not None else report
