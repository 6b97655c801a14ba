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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swamp.engine import control, runs, service
from swamp.engine.progress import PlainProgress
from swamp.errors import SwampError, UsageError
from swamp.identity import runner_identity
from swamp.queue import items
from swamp.queue.items import Item
from swamp.queue.outcome import detail
from swamp.queue.status import NEEDS_ACTION, ItemLock, status
from swamp.queue.timing import iso, utcnow
from swamp.repo import Repository

if TYPE_CHECKING:
    from swamp.approval import Approvals


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
) -> tuple[list[Item], list[Path]]:
    """Matching items in file order, and files that are not readable items."""
    selector.check()
    chosen: list[Item] = []
    broken: list[Path] = []
    for entry in items.iter_items(root):
        if isinstance(entry, Path):
            broken.append(entry)
        elif selector.matches(entry) and (shard is None or shard.holds(entry)):
            chosen.append(entry)
    if selector.item is not None and not chosen:
        raise SwampError(f"no queued item {selector.item!r} (see `swamp queue list`)")
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
    mode: str  # start, resume (failed/stopped/paused or a staged release), reclaim
    run_id: str
    lock: ItemLock


Claimer = Callable[["Executor", list[Action]], tuple[list[Action], list[Report]]]


@dataclass
class Executor:
    repo: Repository
    by: str
    dry_run: bool = False
    quiet: bool = False
    reclaim: bool = False
    approvals: Approvals | None = None
    now: datetime = field(default_factory=utcnow)
    on_report: Callable[[Report], None] | None = None

    def run_all(
        self,
        chosen: Iterable[Item],
        selector: Selector,
        concurrency: int,
        claim: Claimer | None = None,
    ) -> list[Report]:
        reports: list[Report] = []
        actions: list[Action] = []
        for item in chosen:
            decided = self.prepare(item, selector.explicit)
            if isinstance(decided, Report):
                reports.append(self._report(decided))
            else:
                actions.append(decided)
        try:
            if claim is not None and actions:
                actions, dropped = claim(self, actions)
                reports += [self._report(r) for r in dropped]
            else:
                for action in actions:
                    self.write_claim(action)
            if concurrency <= 1 or len(actions) <= 1:
                reports += [self._report(self.run(a)) for a in actions]
            else:
                with ThreadPoolExecutor(max_workers=concurrency) as pool:
                    futures = [pool.submit(self.run, a) for a in actions]
                    reports += [self._report(f.result()) for f in futures]
        finally:
            for action in actions:
                action.lock.release()
        return reports

    def _report(self, report: Report) -> Report:
        if self.on_report:
            self.on_report(report)
        return report

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
        """What `item` needs now: an Action to run, or a Report saying why not."""
        st = status(self.repo, item, self.now, active=False)
        base = Report(item.id, item.target, st.state, st.detail, item.data.get("run"))
        run_id = str(item.data.get("run") or runs.new_run_id(item.target))
        if st.state == "expired":
            if not self.dry_run and item.state != "expired":
                item.data["state"] = "expired"
                item.save()
            return base
        if st.state == "stale":
            base.detail += "; re-approve by purging it and queueing it again in a reviewed change"
            return base
        if st.state in ("waiting", "running"):
            return base
        if st.state == "stale-claim":
            if not (explicit and self.reclaim):
                base.outcome = "skipped"
                return base
            return self._would(base) or Action(item, "reclaim", run_id, lock)
        if st.state == "held":
            staged = item.data.get("release") or {}
            if staged.get("job") != item.data.get("heldJob"):
                return base
            return self._would(base) or Action(item, "resume", run_id, lock)
        if st.state in NEEDS_ACTION:
            if not explicit:
                base.outcome, base.detail = "skipped", f"{st.state}: {st.detail}"
                return base
            return self._would(base) or Action(item, "resume", run_id, lock)
        if self.approvals is not None:
            verdict = self.approvals.check(item.path.relative_to(self.repo.root).as_posix(),
                                           str(item.data.get("requestedBy", "")))  # fmt: skip
            if not verdict.ok:
                base.outcome, base.detail = "unapproved", verdict.reason
                return base
            item.data["approval"] = {"by": verdict.approvers, "pullRequest": verdict.pull_request}
        return self._would(base) or Action(item, "start", run_id, lock)

    def _would(self, base: Report) -> Report | None:
        if not self.dry_run:
            return None
        base.outcome, base.detail = "would-run", base.target
        return base

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

    def run(self, action: Action) -> Report:
        item = action.item
        progress = None if self.quiet else PlainProgress()
        folder = runs.runs_dir(self.repo.root) / action.run_id
        staged = item.data.pop("release", None)
        if action.mode != "start" and (folder / "journal.jsonl").is_file():
            handle = runs.open_run(self.repo.root, action.run_id)
            if staged:
                handle.record("job-released", job=staged["job"], by=staged["by"])
            item.save()
            result = service.resume(self.repo, handle, progress=progress)
        else:
            item.save()
            result = service.start(
                self.repo,
                item.kind,
                item.target,
                item.inputs,
                by=self.by,
                item=item.id,
                run_id=action.run_id,
                progress=progress,
            )
        return Report(item.id, item.target, result.state.state, detail(result.state), result.id)


def purge(repo: Repository, item: Item, *, dry_run: bool) -> Report:
    """Remove an item's file; a held or failed item's run is cancelled too."""
    lock = ItemLock(repo.root, item.id)
    if not lock.try_acquire():
        return Report(item.id, item.target, "refused", "running now; stop its run first")
    try:
        st = status(repo, item, utcnow(), active=False)
        run_id = item.data.get("run")
        if st.state == "running":
            return Report(
                item.id,
                item.target,
                "refused",
                f"running ({st.detail}); stop it with `swamp run stop {run_id}` first",
                run_id,
            )
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
