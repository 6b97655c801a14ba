"""Running the steps of a job: in dependency order, each with its attempts
(retries), its inputs rendered from what ran before, its method called (or
its nested workflow run), and every start and finish journaled.

`runner.Runner` builds on this with what spans a run: the jobs, their
order, checks, forEach and the run's own state.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Any, assert_never

from swamp import expressions, freeze, schemas
from swamp.context import base_context, step_environment
from swamp.definitions import Job, Step, Workflow
from swamp.engine import control, schedule
from swamp.engine.events import (
    E,
    Event,
    EventClass,
    JobReleased,
    JobReset,
    JobStateSet,
    P,
    RunStateSet,
    StepFinished,
    StepReset,
    StepStarted,
)
from swamp.engine.runs import RunHandle
from swamp.engine.state import JobState, StepStatus, finished
from swamp.execute import call_method, call_task
from swamp.inputs import apply_defaults
from swamp.interrupts import STATE as INTERRUPT
from swamp.interrupts import reason as interrupt_reason
from swamp.repo import Repository
from swamp.types.base import ExecutionContext, Outcome

# the run): they are fsynced, with everything written before them, before the
# engine moves on. A step's finish is not in the list: nothing acts on it
# before the next event of the run, which is durable (the next step's start,
# the job's state), so one fsync covers both; that halves the fsyncs of a
# sequence of steps. A crash in between loses at most the finish, and the
# step then counts as in flight: its outcome is unknown (engine/unknown.py).
DURABLE_EVENTS: frozenset[type[Event]] = frozenset(
    {StepStarted, JobStateSet, RunStateSet, JobReleased, StepReset, JobReset}
)
TAIL_LINES = 20
_SORTED_JSON = json.JSONEncoder(sort_keys=True)  # built once: json.dumps builds one per call

Progress = Callable[[Event, RunHandle], None]


def _tail(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[-TAIL_LINES:])


class StepRunner(ABC):
    """The steps of one run of one workflow (see runner.Runner)."""

    def __init__(
        self,
        repo: Repository,
        workflow: Workflow,
        run: RunHandle,
        *,
        concurrency: int,
        progress: Progress | None = None,
        depth: int = 0,
        parent_cancel: threading.Event | None = None,
    ) -> None:
        self.repo = repo
        self.workflow = workflow
        self.run = run
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.depth = depth
        self.cancel = parent_cancel or threading.Event()  # stop: terminate in-flight work
        self.pausing = threading.Event()  # start nothing new
        self.failed = threading.Event()  # a failure happened in this invocation
        self.lock = threading.RLock()
        self.base = base_context(repo.config, run.state.inputs)
        self._jobs_refs: dict[int, bool] = {}
        # (schema, inputs as JSON) that passed their check: steps that give a
        # method the same inputs are checked once per run.
        self._valid_inputs: set[tuple[int, str]] = set()
        self._environment: Mapping[str, str] | None = None  # what steps' processes get
        self._linked: dict[int, Linked] = {}  # a job's stop events, by its job_cancel
        # Read at every step boundary: built once.
        self._control = control.local_path(run.dir, control.CONTROL)
        self._freeze = freeze.files(repo.root)
        self._watched = (str(self._control), *(str(p) for p in self._freeze))  # for os.stat
        self._unreported: list[Event] = []
        self.unwatched: str | None = None  # why stops and freezes cannot be read

    # -- recording -----------------------------------------------------------

    def record(self, cls: EventClass[P, E], *args: P.args, **fields: P.kwargs) -> None:
        """Journal an event, `cls(seq, now, **fields)`; state transitions
        (DURABLE_EVENTS) are fsynced before the engine moves on (see
        journal.py). Progress lines wait for the fsync."""
        durable = cls in DURABLE_EVENTS
        journal = self.run.journal
        with self.lock:
            event = journal.write(cls, *args, **fields)
            self.run.state.apply(event)
            if self.progress:
                self._unreported.append(event)
        if not durable:
            return
        # Outside the lock: steps finishing together share one fsync.
        journal.sync(event.seq)
        if self.progress:
            with self.lock:
                done = [e for e in self._unreported if e.seq <= event.seq]
                self._unreported = self._unreported[len(done) :]
                for e in done:
                    self.progress(e, self.run)

    def job_state(self, name: str) -> JobState:
        return self.run.state.job(name)

    def _poll_signals(self) -> None:
        """Read the run's control file and the repository's freeze.

        If it cannot, nothing new starts: a run nobody can stop or freeze
        must not go on. The jobs it cuts short fail, and so does the run.
        """
        try:
            # A stat first: most boundaries find no control file, and a
            # failed open costs three times as much (this runs every step).
            signal = control.read_file(self._control) if _present(self._watched[0]) else None
            frozen = signal is None and self._frozen()
        except Exception as e:  # whatever the cause, the run is unwatched from now on
            with self.lock:
                if self.unwatched is None:
                    self.unwatched = f"cannot watch for stop and freeze: {type(e).__name__}: {e}"
            self.pausing.set()
            return
        if signal == "stop":
            self.pausing.set()
            self.cancel.set()
        elif signal == "pause" or frozen:
            self.pausing.set()

    def _frozen(self) -> bool:
        return _present(self._watched[1], regular=True) or _present(self._watched[2], regular=True)

    # -- steps -----------------------------------------------------------------

    def _run_group(
        self,
        job: Job,
        steps: Sequence[Step],
        prefix: str,
        extra: dict[str, Any],
        job_cancel: threading.Event,
        *,
        parallel: bool = False,
        suffix: bool = False,
        record_success: bool = True,
    ) -> str | None:
        """Run steps in dependency order; the name of a failed step, or None."""

        def key(step: Step) -> str:
            return f"{step.name}{prefix}" if suffix else f"{prefix}{step.name}"

        jstate = self.job_state(job.name)
        failed: str | None = None
        if parallel:
            # Checks run every round; prechecks that passed before are not repeated.
            pending = [s for s in steps if prefix == "check:" or self._needs_run(jstate, key(s))]
            with ThreadPoolExecutor(max_workers=max(1, len(pending))) as pool:
                results = list(
                    pool.map(
                        lambda s: self._run_step(
                            job, s, key(s), extra, job_cancel, {}, record_success
                        ),
                        pending,
                    )
                )
            for s, ok in zip(pending, results, strict=True):
                if not ok and failed is None:
                    failed = s.name
            return failed

        # A step is looked at once all it depends on has finished (graphlib),
        # so the work per step does not grow with the number of steps; its
        # outputs are added as it finishes.
        keys = {s.name: key(s) for s in steps}
        by_name = {s.name: s for s in steps}

        def done_before(name: str) -> bool:
            st = jstate.steps.get(keys[name])
            return st is not None and finished(st.state)

        def lookup(name: str) -> tuple[schedule.Status, bool]:
            d = jstate.steps.get(keys[name])
            return (d.state, d.allowed) if d else (StepStatus.PENDING, False)

        order = schedule.Ordering(
            {s.name: [d.name for d in s.depends_on] for s in steps}, done_before
        )
        outputs: dict[str, Any] = {}
        for s in steps:
            self._add_output(outputs, jstate, s.name, keys[s.name])
        while True:
            if self._should_stop(job_cancel):
                return failed
            ready: list[Step] = []
            ended: list[Step] = []
            for s in map(by_name.__getitem__, order.ready()):
                verdict = schedule.verdict(s.depends_on, lookup)
                if verdict is None:
                    continue  # waits on a failure that a resume may mend
                if isinstance(verdict, str):
                    self.record(
                        StepFinished,
                        job=job.name,
                        step=keys[s.name],
                        state=StepStatus.SKIPPED,
                        error=verdict,
                    )
                    ended.append(s)
                    continue
                if (
                    self.failed.is_set()
                    and not schedule.handles_failure(job.depends_on)
                    and not schedule.handles_failure(s.depends_on)
                ):
                    continue  # after a failure elsewhere: left for a resume
                ready.append(s)
            if not ready and not ended:
                return failed

            def run(s: Step) -> bool:
                return self._run_step(job, s, keys[s.name], extra, job_cancel, outputs)

            if len(ready) == 1:
                results = [run(ready[0])]
            elif ready:
                with ThreadPoolExecutor(max_workers=len(ready)) as pool:
                    results = list(pool.map(run, ready))
            else:
                results = []
            for s, ok in zip(ready, results, strict=True):
                if not ok and failed is None and not s.allow_failure:
                    failed = s.name
            for s in (*ready, *ended):
                self._add_output(outputs, jstate, s.name, keys[s.name])
                order.done(s.name)

    def _should_stop(self, job_cancel: threading.Event) -> bool:
        """Checked at every step boundary: a pause, a stop or a freeze asked
        for from another process takes effect before the next step starts.
        (A nested workflow is one step of the run that started it: it
        honours a stop, and a pause once it has finished.)"""
        if self.depth == 0 and not (
            self.pausing.is_set() or self.cancel.is_set() or job_cancel.is_set()
        ):
            self._poll_signals()
        return (
            self.pausing.is_set()
            or self.cancel.is_set()
            or job_cancel.is_set()
            or INTERRUPT.requested.is_set()
        )

    @staticmethod
    def _add_output(outputs: dict[str, Any], jstate: JobState, name: str, key: str) -> None:
        st = jstate.steps.get(key)
        if st is None:
            return
        match st.state:
            case StepStatus.SUCCEEDED | StepStatus.FAILED:
                outputs[name] = {"outputs": st.outputs, "state": st.state}
            case (
                StepStatus.PENDING
                | StepStatus.RUNNING
                | StepStatus.SKIPPED
                | StepStatus.STOPPED
                | StepStatus.INTERRUPTED
            ):
                pass  # no outputs to read
            case _:
                assert_never(st.state)

    @staticmethod
    def _needs_run(jstate: JobState, key: str) -> bool:
        st = jstate.steps.get(key)
        return st is None or st.state != StepStatus.SUCCEEDED

    def _context(
        self, steps: dict[str, Any] | None = None, *, jobs: bool = True, **extra: Any
    ) -> dict[str, Any]:
        with self.lock:  # a consistent view while parallel jobs record
            outputs = self.run.state.outputs() if jobs else {}
        return {**self.base, "steps": steps or {}, "jobs": outputs, **extra}

    def _reads_jobs(self, step: Step) -> bool:
        """Whether the step's inputs mention `jobs`: building that namespace
        costs as much as the run is long, so it is built only when read."""
        found = self._jobs_refs.get(id(step))
        if found is None:
            found = any(
                "jobs" in source
                for _, text in expressions.walk_strings(dict(step.inputs))
                for source, _ in expressions.find(text)
            )
            self._jobs_refs[id(step)] = found
        return found

    @staticmethod
    def _render_text(text: str, context: Mapping[str, Any]) -> str:
        try:
            return str(expressions.render(text, context))
        except expressions.ExpressionError as e:
            return f"{text} ({e})"

    def _run_step(
        self,
        job: Job,
        step: Step,
        key: str,
        extra: dict[str, Any],
        job_cancel: threading.Event,
        outputs: dict[str, Any],
        record_success: bool = True,
    ) -> bool:
        attempts = step.retry.attempts if step.retry else 1
        delay = step.retry.delay if step.retry else 0.0
        context = self._context(outputs, jobs=self._reads_jobs(step), **extra)
        outcome = Outcome(ok=False, error="not run")
        attempt = 0
        for attempt in range(1, attempts + 1):
            if record_success or attempt > 1:
                self.record(
                    StepStarted, job=job.name, step=key, attempt=attempt, target=step.target
                )
            try:
                outcome = self._attempt(job, step, key, context, job_cancel)
            except Exception as e:  # a bug (ours or a type's): the step fails, and says so
                outcome = Outcome(ok=False, error=f"internal error: {type(e).__name__}: {e}")
            if outcome.ok or self._cancelled(job_cancel):
                break
            if attempt < attempts:
                if self._sleep(delay, job_cancel):
                    break
                delay *= step.retry.backoff if step.retry else 1.0
        if outcome.ok and not record_success:
            return True
        state = StepStatus.SUCCEEDED if outcome.ok else StepStatus.FAILED
        if not outcome.ok and INTERRUPT.requested.is_set():
            # Its outcome is unknown: a resume decides (engine/unknown.py).
            state = StepStatus.INTERRUPTED
            outcome.error = f"{interrupt_reason()} while running ({outcome.error})"
        elif not outcome.ok and self.cancel.is_set():
            state = StepStatus.STOPPED  # its outcome is unknown too (engine/unknown.py)
        self.record(
            StepFinished,
            job=job.name,
            step=key,
            state=state,
            outputs=outcome.outputs,
            error=outcome.error,
            attempt=attempt,
            stdout=_tail(outcome.stdout),
            stderr=_tail(outcome.stderr),
            allowed=bool(step.allow_failure and not outcome.ok),
        )
        return outcome.ok

    def _cancelled(self, job_cancel: threading.Event) -> bool:
        """Whether in-flight work must end now (a stop, a failed check, a signal)."""
        return self.cancel.is_set() or job_cancel.is_set() or INTERRUPT.requested.is_set()

    def _sleep(self, seconds: float, job_cancel: threading.Event) -> bool:
        """Wait between attempts; True if interrupted."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self._cancelled(job_cancel):
                return True
            time.sleep(min(0.05, end - time.monotonic()) if end > time.monotonic() else 0)
        return False

    def _attempt(
        self,
        job: Job,
        step: Step,
        key: str,
        context: dict[str, Any],
        job_cancel: threading.Event,
    ) -> Outcome:
        try:
            inputs = expressions.render(dict(step.inputs), context)
        except expressions.ExpressionError as e:
            return Outcome(ok=False, error=str(e))
        if step.workflow:
            return self._nested(job, step, key, inputs, job_cancel)
        if step.task is not None:  # an inline task (a workflow dialect's)
            ctx = self._execution_context(step, job_cancel)
            return call_task(step.task, inputs, ctx)
        assert step.model is not None and step.method is not None
        model = self.repo.models.get(step.model)
        if model is None or step.method not in model.methods:
            return Outcome(ok=False, error=f"unknown model method {step.model}.{step.method}")
        method = model.methods[step.method]
        inputs = apply_defaults(inputs, method.inputs)
        try:
            seen: tuple[int, str] | None = (id(method.inputs), _SORTED_JSON.encode(inputs))
        except (TypeError, ValueError):  # not JSON data: checked every time
            seen = None
        if seen is None or seen not in self._valid_inputs:
            problems = schemas.messages(inputs, method.inputs, "input")
            if problems:
                return Outcome(ok=False, error=f"{step.target}: " + "; ".join(problems))
            if seen is not None:
                self._valid_inputs.add(seen)
        ctx = self._execution_context(step, job_cancel)
        return call_method(model, method, base_context(self.repo.config, inputs), ctx)

    def _step_environment(self) -> Mapping[str, str]:
        """Built once per run: it reads the whole of os.environ. Read-only
        (a type that adds to it makes its own copy)."""
        if self._environment is None:
            self._environment = MappingProxyType(step_environment(self.repo.config))
        return self._environment

    def _execution_context(self, step: Step, job_cancel: threading.Event) -> ExecutionContext:
        # What does not change from step to step is built once (per job for
        # the stop event): a sequence of quick steps pays for each object.
        cancel = self._linked.get(id(job_cancel))
        if cancel is None or cancel.sources[1] is not job_cancel:
            cancel = Linked(self.cancel, job_cancel, INTERRUPT.requested)
            with self.lock:
                if len(self._linked) >= 64:  # each round of checks has its own event
                    self._linked.clear()
                self._linked[id(job_cancel)] = cancel
        return ExecutionContext(
            workdir=self.repo.root,
            timeout=step.timeout or self.repo.config.step_timeout,
            cancel=cancel,
            grace=self.repo.config.stop_grace,
            kill_now=INTERRUPT.kill_now,
            environment=self._step_environment(),  # read-only: types copy it
        )

    @abstractmethod
    def _nested(
        self,
        job: Job,
        step: Step,
        key: str,
        inputs: dict[str, Any],
        job_cancel: threading.Event,
    ) -> Outcome:
        """A step that runs a workflow: a run of its own (runner.Runner)."""


def _present(path: str, *, regular: bool = False) -> bool:
    """Whether path exists (as a regular file, with `regular`), as
    Path.exists/is_file say, for less: errors other than its absence raise."""
    try:
        mode = os.stat(path).st_mode  # noqa: PTH116 - a str: no Path per call
    except (FileNotFoundError, NotADirectoryError):
        return False
    return stat.S_ISREG(mode) or not regular


class Linked(threading.Event):
    """An event that is set when any of its sources is (checked lazily)."""

    def __init__(self, *sources: threading.Event) -> None:
        super().__init__()
        self.sources = sources

    def is_set(self) -> bool:
        return super().is_set() or any(s.is_set() for s in self.sources)

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            super().wait(0.05 if remaining is None else min(0.05, remaining))
        return True
