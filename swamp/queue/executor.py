"""Executing and purging queued items."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from swamp import freeze, secrets
from swamp.engine import control, runs, service
from swamp.engine.progress import PlainProgress
from swamp.engine.state import RunState
from swamp.errors import SwampError, UsageError
from swamp.identity import ci_run_url, runner_identity
from swamp.queue import items
from swamp.queue.items import Item
from swamp.queue.status import NEEDS_ACTION, ItemLock, status
from swamp.queue.timing import iso, utcnow
from swamp.repo import Repository


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


def select(root: Path, selector: Selector) -> tuple[list[Item], list[Path]]:
    """Matching items in file order, and files that are not readable items."""
    selector.check()
    chosen: list[Item] = []
    broken: list[Path] = []
    for entry in items.in_review_order(items.iter_items(root)):
        if isinstance(entry, Path):
            broken.append(entry)
        elif selector.matches(entry):
            chosen.append(entry)
    if selector.item is not None and not chosen:
        raise SwampError(f"no queued item {selector.item!r} (see `swamp queue list`)")
    return chosen, broken


@dataclass
class Report:
    item: str
    target: str
    outcome: str  # succeeded failed held paused stopped waiting expired stale skipped would-run
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
class Executor:
    repo: Repository
    by: str
    dry_run: bool = False
    quiet: bool = False
    # Each item is judged at the moment it is reached (a window may close,
    # a notBefore pass, while earlier items run); tests may fix the clock.
    now: datetime | None = None
    on_report: Callable[[Report], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_all(self, chosen: Iterable[Item], selector: Selector, concurrency: int) -> list[Report]:
        """Reports in the order of `chosen`; each told as soon as it is known."""
        todo = list(chosen)
        if concurrency <= 1 or len(todo) <= 1:
            return [self._report(self.execute(i, selector.explicit)) for i in todo]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = {
                pool.submit(self.execute, i, selector.explicit): n for n, i in enumerate(todo)
            }
            reports: list[Report | None] = [None] * len(todo)
            for f in as_completed(futures):
                reports[futures[f]] = self._report(f.result())
        return [r for r in reports if r is not None]

    def _report(self, report: Report) -> Report:
        if self.on_report:
            with self.lock:
                self.on_report(report)
        return report

    def execute(self, item: Item, explicit: bool) -> Report:
        lock = ItemLock(self.repo.root, item.id)
        if not lock.try_acquire():
            return Report(item.id, item.target, "skipped", "being executed by another process")
        try:
            fresh = items.read_item(item.path)
            if fresh is None:  # finished by another process meanwhile
                return Report(item.id, item.target, "skipped", "no longer queued")
            return self._execute_locked(fresh, explicit)
        finally:
            lock.release()

    def _execute_locked(self, item: Item, explicit: bool) -> Report:
        st = status(self.repo, item, self.now or utcnow(), active=False)
        base = Report(item.id, item.target, st.state, st.detail, item.data.get("run"))
        if st.state == "waiting":
            return base
        if st.state == "expired":
            if not self.dry_run and item.state != "expired":
                item.data["state"] = "expired"
                item.save()
            return base
        if st.state == "stale":
            base.detail += "; re-approve by purging it and queueing it again in a reviewed change"
            return base
        resume = st.state in (*NEEDS_ACTION, "interrupted")
        if st.state == "held":  # only `swamp workflow release` continues it
            base.outcome, base.detail = "skipped", f"held: {st.detail}"
            return base
        if resume and not explicit:
            base.outcome = "skipped"
            base.detail = f"{st.state}: {st.detail}"
            return base
        if self.dry_run:
            base.outcome, base.detail = "would-run", ("resume " if resume else "") + item.target
            return base
        frozen = freeze.read(self.repo.root)
        if frozen is not None:  # frozen while earlier items ran: start nothing more
            base.outcome, base.detail = "frozen", freeze.describe(frozen)
            return base
        before = dict(item.data)
        try:
            return self._run(item, resume)
        except SwampError as e:
            # Nothing ran: put the item back as it was, and say why.
            item.data = before
            item.save()
            return Report(item.id, item.target, "failed", str(e), item.data.get("run"))

    def _run(self, item: Item, resume: bool) -> Report:
        progress = None if self.quiet else PlainProgress(label=f"{item.id} {item.target}")
        handle = None
        if resume and item.data.get("run"):
            with contextlib.suppress(SwampError):  # claimed, but the run never began
                handle = runs.open_run(self.repo.root, item.data["run"])
            if handle is not None and not handle.state.target:
                handle.journal.close()  # cut off as it began: nothing of it ran
                handle = None
        if handle is not None and handle.state.state == "succeeded":
            # The run finished but the runner died before recording it.
            handle.journal.close()
            record_outcome(self.repo.root, handle.state)
            return Report(item.id, item.target, "succeeded", "result recorded", handle.id)
        if handle is not None:
            self._claim(item, handle.id)
            result = service.resume(self.repo, handle, progress=progress, item_locked=True)
        else:
            run_id = runs.new_run_id(item.target)
            self._claim(item, run_id)
            result = service.start(
                self.repo,
                item.kind,
                item.target,
                item.inputs,
                by=self.by,
                item=item.id,
                run_id=run_id,
                progress=progress,
                item_locked=True,
            )
        return Report(item.id, item.target, result.state.state, _detail(result.state), result.id)

    def _claim(self, item: Item, run_id: str) -> None:
        item.data["state"] = "running"
        item.data["run"] = run_id
        item.data["claim"] = {"by": runner_identity(), "at": iso(utcnow())}
        item.save()


def _detail(state: RunState) -> str:
    if state.state == "held":
        held = [j for j, s in state.jobs.items() if s.state == "held"]
        return f"release with: swamp workflow release {held[0]} --run {state.id}" if held else ""
    if state.state in ("failed", "stopped", "paused"):
        return state.reason or ""
    return ""


def _failed_step(state: RunState) -> str | None:
    for j, job in state.jobs.items():
        for k, s in job.steps.items():
            if s.state == "failed" and not s.allowed:
                return f"{j}/{k}"
    return None


def record_outcome(root: Path, state: RunState) -> None:
    """Write a run's outcome into its queue item: done/ on success, else the
    item's state in queue/. Called after every run that belongs to an item,
    whichever command started or continued it."""
    if state.item is None:
        return
    found = sorted(items.queue_dir(root).glob(f"*-{state.item}.yaml"))
    item = items.read_item(found[0]) if found else None
    if item is None:
        return
    data = item.data
    data["run"] = state.id
    data.pop("heldJob", None)
    data.pop("failedStep", None)
    if state.state == "succeeded":
        data.pop("claim", None)
        data["result"] = _result(state)
        _move_to_done(root, item)
        return
    data["state"] = state.state if state.state in NEEDS_ACTION else "failed"
    if state.state == "held":
        held = [j for j, s in state.jobs.items() if s.state == "held"]
        if held:
            data["heldJob"] = held[0]
    step = _failed_step(state)
    if step and state.state != "held":
        data["failedStep"] = step
    item.save()


def _result(state: RunState) -> dict[str, Any]:
    outputs: dict[str, Any]
    if state.kind == "method":
        job = next(iter(state.jobs.values()))
        step = next(iter(job.steps.values()), None)
        outputs = step.outputs if step else {}
    else:
        outputs = state.outputs()
    result: dict[str, Any] = {
        "status": "succeeded",
        "run": state.id,
        "startedAt": state.created,
        "endedAt": state.updated,
        "outputs": secrets.mask(outputs),
        "executedBy": state.by,
        "host": runner_identity(),
    }
    url = ci_run_url()
    if url:
        result["ciRunUrl"] = url
    released = [
        {"job": j, "by": s.released_by, "at": s.released_at}
        for j, s in state.jobs.items()
        if s.released_by
    ]
    if released:
        result["releasedBy"] = released
    return result


def _move_to_done(root: Path, item: Item) -> None:
    target = items.done_dir(root) / item.path.name
    n = 1
    while target.exists():  # the same invocation ran before: keep both records
        n += 1
        target = items.done_dir(root) / f"{item.path.stem}-{n}{item.path.suffix}"
    original = item.path
    item.path = target
    item.data["state"] = "succeeded"
    item.save()
    with contextlib.suppress(FileNotFoundError):
        original.unlink()
    item.done = True


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
        run_id = item.data.get("run")
        claim = item.data.get("claim") or {}
        here = runner_identity().split()[0]
        if item.state == "running" and str(claim.get("by", "")).split(" ")[0] != here:
            # Claimed by a runner on another machine: it may be running there.
            return Report(
                item.id,
                item.target,
                "refused",
                f"claimed by {claim.get('by', '?')} at {claim.get('at', '?')}; purge it "
                "where it runs, or once that runner is gone resume it with "
                f"`swamp queue execute --item {item.id}`",
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
