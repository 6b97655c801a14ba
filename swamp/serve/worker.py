"""The runs this server accepted, and the threads that execute them.

A run is journaled (fsynced) before its acceptance is answered, with a
`serve-accepted` event naming who asked; the run then waits for a worker.
After a crash or `kill -9`, `recover` finds every accepted run that has not
come to rest and continues it with `service.resume`, which never re-runs a
succeeded step: every accepted run completes exactly once. A drain (SIGTERM)
stops accepting, lets runs finish within a grace period, then stops the
rest as a stop request does; they are recorded as drained and continued by
the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swamp.engine import control, runs, service
from swamp.engine.events import ApiRequest, RunStateSet, ServeAccepted, ServeDrained
from swamp.engine.journal import JOURNAL, CorruptRun, read_events
from swamp.engine.runs import NewRun, RunHandle
from swamp.engine.state import RunStatus, load_state
from swamp.errors import SwampError
from swamp.queue import item_runs
from swamp.serve.repocache import RepoCache

log = logging.getLogger("swamp.serve")


class Draining(SwampError):
    """The server is shutting down and accepts nothing new."""


@dataclass
class Dispatcher:
    cache: RepoCache
    workers: int = 4
    _pool: ThreadPoolExecutor = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _pending: dict[str, RunHandle] = field(default_factory=dict, init=False)
    _cancelled: set[str] = field(default_factory=set, init=False)
    _active: dict[str, RunHandle] = field(default_factory=dict, init=False)
    _futures: set[Future[None]] = field(default_factory=set, init=False)
    draining: bool = field(default=False, init=False)
    recovered: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="swamp-run")

    @property
    def root(self) -> Path:
        return self.cache.root

    # -- accepting -------------------------------------------------------------

    def accept(
        self,
        kind: str,
        target: str,
        inputs: Mapping[str, Any],
        *,
        by: str,
        via: str,
        run_id: str | None = None,
    ) -> str:
        """Journal a run durably and queue it for a worker; its id."""
        if self.draining:
            raise Draining("the server is shutting down; try again later")
        repo = self.cache.get()
        wf, handle = service.create(repo, NewRun(kind, target, inputs, by, run_id=run_id))
        handle.record(ServeAccepted, by=by, via=via)
        with self._lock:
            self._pending[handle.id] = handle
        self._submit(handle.id, lambda: self._execute(wf, handle))
        return handle.id

    def submit_resume(
        self, handle: RunHandle, *, retrying: bool = False, rerun_unknown: bool = False
    ) -> None:
        """Continue an open run (released, resumed, retried) on a worker."""
        if self.draining:
            handle.journal.close()
            raise Draining("the server is shutting down; try again later")
        with self._lock:
            self._pending[handle.id] = handle
        self._submit(handle.id, lambda: self._resume(handle, retrying, rerun_unknown))

    def _submit(self, run_id: str, work: Callable[[], None]) -> None:
        def job() -> None:
            try:
                with self._lock:  # taken by a worker, or stopped while it waited: one of them
                    handle = self._pending.pop(run_id, None)
                    if run_id in self._cancelled or handle is None:
                        if handle is not None:
                            handle.journal.close()
                        return
                    self._active[run_id] = handle
                work()
            except SwampError as e:
                log.warning("run %s: %s", run_id, e)
            except Exception:
                log.exception("run %s: unexpected error", run_id)
            finally:
                with self._lock:
                    self._pending.pop(run_id, None)
                    self._active.pop(run_id, None)
                    self._cancelled.discard(run_id)

        future = self._pool.submit(job)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _execute(self, wf: Any, handle: RunHandle) -> None:
        service.execute(self.cache.get(), wf, handle)

    def _resume(self, handle: RunHandle, retrying: bool, rerun_unknown: bool) -> None:
        item_runs.resume(
            self.cache.get(), handle, quiet=True, retrying=retrying, rerun_unknown=rerun_unknown
        )

    # -- what it knows -----------------------------------------------------------

    def is_pending(self, run_id: str) -> bool:
        """Accepted, and not yet taken by a worker."""
        with self._lock:
            return run_id in self._pending

    def owns(self, run_id: str) -> bool:
        """Waiting for a worker here, or executing here."""
        with self._lock:
            return run_id in self._pending or run_id in self._active

    def note(self, run_id: str, action: str, by: str, *, rerun_unknown: bool | None = None) -> bool:
        """Record an API action in the run's journal, when this process may
        write it (the run executes here, or nowhere); False otherwise."""
        with self._lock:
            handle = self._active.get(run_id) or self._pending.get(run_id)
        if handle is not None:
            handle.record(ApiRequest, action=action, by=by, rerun_unknown=rerun_unknown)
            return True
        folder = runs.find_run(self.root, run_id)
        if control.is_active(folder):
            return False  # another process owns the journal
        handle = runs.open_run(self.root, run_id)
        try:
            handle.record(ApiRequest, action=action, by=by, rerun_unknown=rerun_unknown)
        finally:
            handle.journal.close()
        return True

    def stop_waiting(self, run_id: str, by: str) -> bool:
        """Stop a run that waits for a worker here (it will not start); False
        if it is not waiting."""
        with self._lock:
            handle = self._pending.get(run_id)
            if handle is None or run_id in self._cancelled:
                return False
            self._cancelled.add(run_id)
            handle.record(
                RunStateSet, state=RunStatus.STOPPED, reason=f"stopped on request by {by}"
            )
        return True

    def busy(self) -> int:
        with self._lock:
            return len(self._pending) + len(self._active)

    # -- restart and shutdown ----------------------------------------------------

    def recover(self) -> list[str]:
        """Continue every accepted run that a crash or drain left unfinished.

        A step that was in flight runs again only if it is declared
        idempotent (engine/unknown.py); otherwise the resume is refused and
        logged, and the run waits for an operator (`swamp run resume
        --rerun-unknown`, or the API's resume with {"rerunUnknown": true})."""
        found = []
        for folder in runs.iter_run_dirs(self.root):
            try:
                if control.is_active(folder) or not _unfinished(folder):
                    continue
            except CorruptRun as e:  # said, and left for a person: the others go on
                log.warning("%s", e)
                continue
            handle = runs.open_run(self.root, folder.name)
            found.append(handle.id)
            log.info("continuing run %s (accepted before a restart)", handle.id)
            self.submit_resume(handle)
        self.recovered = True
        return found

    def drain(self, grace: float) -> None:
        """Stop accepting; wait up to `grace` seconds; then stop what still runs."""
        self.draining = True
        deadline = time.monotonic() + grace
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.1)
        with self._lock:
            active = list(self._active.values())
        for handle in active:
            log.info("stopping run %s (grace period over)", handle.id)
            handle.record(ServeDrained, reason=f"server stopped after {grace:g}s of grace")
            control.send(handle.dir, "stop")
        self._pool.shutdown(wait=True, cancel_futures=True)


def _unfinished(folder: Path) -> bool:
    """Accepted here, and not at rest by its own doing: created or running
    (cut off by a crash), or stopped by a drain."""
    accepted = drained = False
    for _, event in read_events(folder / JOURNAL):
        match event:
            case ServeAccepted():
                accepted = True
            case ServeDrained():
                drained = True
            case RunStateSet() if event.state != RunStatus.STOPPED:
                drained = False
            case _:
                pass  # the others say nothing of how the run came to rest
    if not accepted:
        return False
    state = load_state(folder).state
    return state in (RunStatus.CREATED, RunStatus.RUNNING) or (
        state == RunStatus.STOPPED and drained
    )
