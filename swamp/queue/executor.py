"""Executing and purging queued items.

`execute` works in three phases: decide what each selected item needs
(run, resume, or nothing yet, and why), claim the items it will run (with
--push, a pushed commit; see `claims`), then run them through the engine.
Each item is locked on this machine from the decision to the end of its run,
so two executors on one checkout never run the same item.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from swamp import freeze, paths
from swamp.engine import control, runs, service
from swamp.engine.progress import PlainProgress
from swamp.engine.state import RunStatus
from swamp.errors import SwampError, UsageError
from swamp.identity import runner_identity
from swamp.interrupts import Interrupted
from swamp.queue import gate, items
from swamp.queue.claims import ClaimPush, Lost, Pushed
from swamp.queue.items import BrokenItem, Item, ItemState
from swamp.queue.outcome import detail, record_outcome, release_commit
from swamp.queue.status import NEEDS_ACTION, ItemLock, status
from swamp.queue.timing import iso, utcnow
from swamp.repo import Repository

if TYPE_CHECKING:
    from swamp.approval import Approvals, Verdict


@dataclass(frozen=True)
class Selector:
    all: bool = False
    workflows: bool = False
    methods: bool = False
    workflow: str | None = None
    method: str | None = None
    item: str | None = None

    def check(self) -> None:
        chosen = [
            self.all,
            self.workflows,
            self.methods,
            self.workflow is not None,
            self.method is not None,
            self.item is not None,
        ]
        if sum(chosen) != 1:
            raise UsageError(
                "say which items: exactly one of --all, --workflows, --methods, "
                "--workflow NAME, --method NAME, --item ID"
            )

    @property
    def explicit(self) -> bool:
        return self.item is not None

    def matches(self, item: Item) -> bool:
        if self.all:
            return True
        if self.workflows:
            return item.kind == "workflow"
        if self.methods:
            return item.kind == "method"
        if self.workflow is not None:
            return item.kind == "workflow" and item.data["workflow"] == self.workflow
        if self.method is not None:
            if item.kind != "method":
                return False
            if "." in self.method:
                return item.target == self.method
            return bool(item.data["method"] == self.method)
        return self.item in (item.id, item.path.stem)


@dataclass(frozen=True)
class Shard:
    """--shard i/N: the items whose id, as a number, is i-1 modulo N."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        i, sep, n = text.partition("/")
        if not (sep and i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
            raise UsageError(f"--shard {text!r}: expected i/N with 1 <= i <= N, such as 2/4")
        return cls(int(i), int(n))

    def holds(self, item: Item) -> bool:
        try:
            number = int(item.id, 16)
        except ValueError:
            number = sum(item.id.encode())
        return number % self.count == self.index - 1


def select(
    root: Path, selector: Selector, shard: Shard | None = None
) -> tuple[list[Item], list[BrokenItem]]:
    """Matching items in file order, and files that are not valid items."""
    selector.check()
    chosen: list[Item] = []
    broken: list[BrokenItem] = []
    for entry in items.in_review_order(items.iter_items(root)):
        if isinstance(entry, BrokenItem):
            broken.append(entry)
        elif selector.matches(entry) and (shard is None or shard.holds(entry)):
            chosen.append(entry)
    if selector.item is not None and not chosen:
        raise SwampError(
            f"no queued item '{paths.shown(selector.item, 60)}' (see `swamp queue list`)"
        )
    return chosen, broken


@dataclass
class Report:
    item: str
    target: str
    outcome: str  # succeeded failed held paused stopped waiting expired stale skipped would-run …
    detail: str = ""
    run: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "target": self.target,
            "outcome": self.outcome,
            "detail": self.detail,
            "run": self.run,
        }


@dataclass
class Action:
    """An item this executor will run: start a new run, or continue one."""

    item: Item
    mode: str  # start, or resume (failed, stopped, paused, interrupted, reclaimed, released)
    run_id: str
    lock: ItemLock
    before: dict[str, Any]  # the item as it was, to put back if nothing ran
    approval: Verdict | None = None  # what the forge verified, for the audit record


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
    around: Callable[[Action], contextlib.AbstractContextManager[None]] | None = None
    after: Callable[[Action, Report], Report] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

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
                self.write_claim(action)
            match push([a.item for a in actions]):
                case Pushed(commit):
                    for action in actions:
                        action.item.data["claim"]["commit"] = commit
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
                    Report(action.item.id, action.item.target, "skipped", "finished elsewhere")
                )
                action.lock.release()
                continue
            decided = self.decide(item, explicit, action.lock)
            if isinstance(decided, Report):
                decided.outcome = "skipped"
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
            self.give_back(action)
            action.lock.release()
            st = status(self.repo, action.item, self.now or utcnow(), active=False)
            dropped.append(Report(action.item.id, action.item.target, "stale", st.detail))
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
            self.write_claim(decided)
            return self.run(decided)
        finally:
            decided.lock.release()

    def prepare(self, item: Item, explicit: bool) -> Action | Report:
        """Lock the item and decide; the lock is kept only if it will run."""
        lock = ItemLock(self.repo.root, item.id)
        if not lock.try_acquire():
            return Report(item.id, item.target, "skipped", "being executed by another process")
        fresh = items.read_item(item.path)
        decided: Action | Report
        if fresh is None:  # finished by another process meanwhile
            decided = Report(item.id, item.target, "skipped", "no longer queued")
        else:
            decided = self.decide(fresh, explicit, lock)
        if isinstance(decided, Report):
            lock.release()
        return decided

    def decide(self, item: Item, explicit: bool, lock: ItemLock) -> Action | Report:
        """What `item` needs now: an Action to run, or a Report saying why not
        (in one line, abridged: it quotes values from the item's file)."""
        decided = self._decide(item, explicit, lock)
        if isinstance(decided, Report):
            decided.detail = paths.shown(decided.detail, 300)
        return decided

    def _decide(self, item: Item, explicit: bool, lock: ItemLock) -> Action | Report:
        """What `item` needs now: an Action to run, or a Report saying why not.

        The stored state only chooses the path (start, or continue its run);
        every path then passes the same gate (gate.admit).
        """
        now = self.now or utcnow()
        st = status(self.repo, item, now, active=False)
        base = Report(item.id, item.target, st.state, st.detail, item.data.get("run"))
        mode = "resume"
        match item.state:
            case ItemState.QUEUED:
                mode = "start"
            case ItemState.HELD:
                staged = item.data.get("release") or {}
                if staged.get("job") != item.data.get("heldJob"):  # a release continues it
                    base.outcome, base.detail = "skipped", f"held: {st.detail}"
                    return base
            case ItemState.RUNNING:
                if st.state == "running":
                    return base
                if st.state == "stale-claim" and not (explicit and self.reclaim):
                    base.outcome = "skipped"
                    return base
                if not explicit:  # interrupted: never again by accident
                    base.outcome, base.detail = "skipped", f"{st.state}: {st.detail}"
                    return base
            case ItemState.FAILED | ItemState.PAUSED | ItemState.STOPPED | ItemState.INTERRUPTED:
                if not explicit:  # never again by accident
                    base.outcome, base.detail = "skipped", f"{st.state}: {st.detail}"
                    return base
            case ItemState.EXPIRED | ItemState.CANCELLED | ItemState.SUCCEEDED:
                return base
            case _:
                assert_never(item.state)
        journal = None
        if mode == "resume" and item.data.get("run"):
            try:
                journal = runs.run_state(self.repo.root, str(item.data["run"]))
            except SwampError as e:
                base.outcome, base.detail = "refused", str(e)
                return base
            if journal is not None and not journal.target:
                journal = None  # cut off as it began: nothing of it ran
        verdict = gate.admit(
            self.repo,
            item,
            now,
            run=journal,
            approvals=None if self.dry_run else self.approvals,
        )
        if isinstance(verdict, gate.Refusal):
            base.outcome, base.detail = verdict.outcome, verdict.detail
            if verdict.outcome == "expired" and not self.dry_run:
                item.data["state"] = "expired"
                item.save()
            return base
        if self.dry_run:
            base.outcome = "would-run"
            base.detail = ("resume " if mode == "resume" else "") + item.target
            return base
        before = dict(item.data)
        run_id = str(item.data.get("run") or runs.new_run_id(item.target))
        return Action(item, mode, run_id, lock, before, verdict.approval)

    def write_claim(self, action: Action) -> None:
        """Mark the item running, by this runner, in its file."""
        data = action.item.data
        data["state"] = "running"
        data["run"] = action.run_id
        data["claim"] = {
            "by": runner_identity(),
            "host": socket.gethostname(),
            "checkout": str(self.repo.root),
            "at": iso(utcnow()),
            "run": action.run_id,
        }
        action.item.save()

    def give_back(self, action: Action) -> None:
        """Nothing ran: the item goes back to what it was before the claim."""
        action.item.data = dict(action.before)
        action.item.save()

    def run(self, action: Action) -> Report:
        report = self._run_or_give_back(action)
        return self.after(action, report) if self.after is not None else report

    def _run_or_give_back(self, action: Action) -> Report:
        item = action.item
        frozen = freeze.refusal(self.repo.root)
        if frozen is not None:  # frozen while earlier items ran: start nothing more
            self.give_back(action)
            return Report(item.id, item.target, "frozen", frozen)
        try:
            with self.around(action) if self.around is not None else contextlib.nullcontext():
                return self._run(action)
        except SwampError as e:
            self.give_back(action)
            return Report(item.id, item.target, "failed", str(e), item.data.get("run"))

    def _run(self, action: Action) -> Report:
        item = action.item
        progress = None if self.quiet else PlainProgress(label=f"{item.id} {item.target}")
        staged = item.data.pop("release", None)
        released = self._released_by(item, staged) if staged else {}
        item.save()
        handle = None
        if action.mode == "resume":
            with contextlib.suppress(SwampError):  # claimed, but the run never began
                handle = runs.open_exact(self.repo.root, action.run_id)
            if handle is not None and not handle.state.target:
                handle.journal.close()  # cut off as it began: nothing of it ran
                handle = None
        if handle is not None and handle.state.state == RunStatus.SUCCEEDED:
            # The run finished but its runner died before recording it.
            handle.journal.close()
            record_outcome(self.repo.root, handle.state, self._audit(action))
            return Report(item.id, item.target, "succeeded", "result recorded", handle.id)
        if handle is not None:
            if staged:
                handle.record("job-released", job=staged["job"], **released)
            result = service.resume(
                self.repo,
                handle,
                progress=progress,
                item_locked=True,
                rerun_unknown=self.rerun_unknown,
            )
        else:
            result = service.start(
                self.repo,
                item.kind,
                item.target,
                item.inputs,
                by=self.by,
                item=item.id,
                run_id=action.run_id,
                progress=progress,
                item_locked=True,
                request=item.request.digest(),
                pin=dict(item.request.pin),
            )
        # The engine reports how the run stopped; the queue records it in the item.
        record_outcome(self.repo.root, result.state, self._audit(action))
        if result.state.state == "interrupted":  # Ctrl-C, SIGTERM: no further item starts
            raise Interrupted(service.interrupted(result.state))
        return Report(item.id, item.target, result.state.state, detail(result.state), result.id)

    def _released_by(self, item: Item, staged: dict[str, Any]) -> dict[str, Any]:
        """Who released the hold: the author of the commit that staged the
        release, never the release's own `by` text; for a release made in
        this checkout and not committed, whoever runs it."""
        commit = release_commit(self.repo.root, item, staged)
        if commit is None:
            return {"by": self.by}
        return {"by": f"{commit.author} <{commit.email}>", "commit": commit.sha}

    def _audit(self, action: Action) -> dict[str, Any]:
        """What this runner verified itself: the only source of the audit's
        approvedBy, pullRequest and executedBy (never the item's own fields)."""
        audit: dict[str, Any] = {"executedBy": self.by}
        verdict = action.approval
        if verdict is not None and verdict.ok:
            audit["approvedBy"] = list(verdict.approvers)
            if verdict.pull_request:
                audit["pullRequest"] = verdict.pull_request
            if verdict.requested is not None:
                audit["requestedBy"] = verdict.requested
        return audit


def purge(repo: Repository, item: Item, *, dry_run: bool) -> Report:
    """Remove an item's file; a held, failed or interrupted item's run is
    cancelled too. A running item is refused."""
    lock = ItemLock(repo.root, item.id)
    if not lock.try_acquire():
        run = item.data.get("run", "?")
        return Report(
            item.id,
            item.target,
            "refused",
            f"running (run {run}); stop it with `swamp run stop {run}` first",
            item.data.get("run"),
        )
    try:
        fresh = items.read_item(item.path)
        if fresh is None:
            return Report(item.id, item.target, "skipped", "no longer queued")
        item = fresh
        st = status(repo, item, utcnow(), active=False)
        run_id = item.data.get("run")
        if st.state == "running":
            if st.detail.startswith("claimed by"):  # by a runner elsewhere, maybe running
                detail = (
                    f"{st.detail}; purge it where it runs, or once that runner is gone take it "
                    f"over with `swamp queue execute --item {item.id} --reclaim`"
                )
            else:
                detail = f"running ({st.detail}); stop it with `swamp run stop {run_id}` first"
            return Report(item.id, item.target, "refused", detail, run_id)
        if dry_run:
            return Report(item.id, item.target, "would-purge", "", run_id)
        if run_id and item.state in (*NEEDS_ACTION, "running"):
            _cancel_run(repo.root, run_id)
        with contextlib.suppress(FileNotFoundError):
            item.path.unlink()
        return Report(item.id, item.target, "purged", "", run_id)
    finally:
        lock.release()


def _cancel_run(root: Path, run_id: str) -> None:
    try:
        handle = runs.open_run(root, run_id)
    except SwampError:
        return  # the run's folder is gone already: nothing to cancel
    lock = control.RunLock(handle.dir)
    try:
        lock.acquire(handle.id)
        handle.record("run-state", state="cancelled", reason="its queue item was purged")
    finally:
        lock.release()
        handle.journal.close()
