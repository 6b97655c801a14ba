"""Executing a run: jobs in parallel up to a limit, steps in dependency order.

Rules (the README explains them to users):
- A step or job starts when everything it depends on has finished and its
  conditions hold; a condition that can no longer hold makes it `skipped`.
- After a failure, nothing new starts except work that explicitly depends on
  a failure (condition failed, completed or always); what was waiting stays
  pending, so `swamp run resume` continues from there.
- A job with `hold:` stops before it starts until it is released.
- Succeeded steps never run again. A step that was in flight when the process
  died or was interrupted has an unknown outcome: a resume runs it again only
  if it is declared idempotent or the operator says so (engine/unknown.py).
- Ctrl-C or SIGTERM: nothing new starts, running steps are terminated (see
  swamp/interrupts.py), and they are recorded as `interrupted`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, assert_never

from swamp import expressions, schemas
from swamp.context import base_context, step_environment
from swamp.definitions import MAX_DEPTH, Dependency, Job, Step, Workflow
from swamp.engine import control
from swamp.engine.runs import RunHandle, create_run, open_child
from swamp.engine.state import (
    TERMINAL,
    JobState,
    RunState,
    StepState,
    StepStatus,
    write_snapshot,
)
from swamp.execute import call_method, call_task
from swamp.inputs import apply_defaults
from swamp.interrupts import STATE as INTERRUPT
from swamp.interrupts import reason as interrupt_reason
from swamp.repo import Repository
from swamp.types.base import ExecutionContext, Outcome

# Events after which the engine acts (starts a step's work, ends or leaves
# the run): they are fsynced, with everything written before them, before the
# engine moves on. A step's finish is not in the list: nothing acts on it
# before the next event of the run, which is durable (the next step's start,
# the job's state), so one fsync covers both; that halves the fsyncs of a
# sequence of steps. A crash in between loses at most the finish, and the
# step then counts as in flight: its outcome is unknown (engine/unknown.py).
DURABLE_EVENTS = frozenset(
    {
        "step-started",
        "job-state",
        "run-state",
        "job-released",
        "step-reset",
        "job-reset",
    }
)
TAIL_LINES = 20
POLL_SECONDS = 0.2

Progress = Callable[[dict[str, Any], RunHandle], None]


def _tail(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[-TAIL_LINES:])


def condition_met(dep: Dependency, state: str, allowed: bool = False) -> bool | None:
    """True/False once decided; None while the dependency has not finished."""
    if state not in TERMINAL:
        return None
    ok = state == "succeeded" or (state == "failed" and allowed)
    if dep.condition == "succeeded":
        return ok
    if dep.condition == "failed":
        return state == "failed" and not allowed
    if dep.condition == "completed":
        return state in ("succeeded", "failed")
    return True  # always


class Runner:
    """Executes (or continues) one run of one workflow."""

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
        self._unreported: list[dict[str, Any]] = []
        self.unwatched: str | None = None  # why the watcher thread stopped

    # -- recording -----------------------------------------------------------

    def record(self, type_: str, *, durable: bool | None = None, **fields: Any) -> None:
        """Journal an event; state transitions are fsynced before the engine
        moves on (see journal.py). Progress lines wait for the fsync."""
        if durable is None:
            durable = type_ in DURABLE_EVENTS
        journal = self.run.journal
        with self.lock:
            event = journal.write(type_, **fields)
            self.run.state.apply(event)
            if self.progress:
                self._unreported.append(event)
        if not durable:
            return
        # Outside the lock: steps finishing together share one fsync.
        journal.sync(event["seq"])
        if self.progress:
            with self.lock:
                done = [e for e in self._unreported if e["seq"] <= event["seq"]]
                self._unreported = self._unreported[len(done) :]
                for e in done:
                    self.progress(e, self.run)

    def job_state(self, name: str) -> JobState:
        return self.run.state.job(name)

    # -- the run ---------------------------------------------------------------

    def execute(self) -> str:
        """Run until nothing more can start; return the run's final state."""
        self._prepare_resume()
        self.record("run-state", state="running")
        stop_watch = threading.Event()
        watcher = None
        if self.depth == 0:
            watcher = threading.Thread(target=self._watch, args=(stop_watch,), daemon=True)
            watcher.start()
        try:
            self._schedule_jobs()
        finally:
            stop_watch.set()
            if watcher:
                watcher.join()
        final, reason = self._final_state()
        extra: dict[str, Any] = {}
        if final == "interrupted":
            extra["inFlight"] = [
                f"{j}/{k}"
                for j, job in self.run.state.jobs.items()
                for k, st in job.steps.items()
                if st.state == "interrupted"
            ]
        self.record("run-state", state=final, reason=reason, **extra)
        write_snapshot(self.run.dir, self.run.state)
        return final

    def _prepare_resume(self) -> None:
        """Jobs interrupted, failed or stopped go back to pending; their
        succeeded steps are kept, the others run again."""
        for name, job in list(self.run.state.jobs.items()):
            if job.state not in ("running", "failed", "stopped", "pending"):
                continue
            for key, step in list(job.steps.items()):
                if _runs_again(step):
                    self.record("step-reset", job=name, step=key)
            if job.state != "pending":
                self.record("job-reset", job=name)

    def _watch(self, done: threading.Event) -> None:
        """Poll while steps run, so that a stop from another terminal
        terminates them (step boundaries check too, see _should_stop).
        If it cannot watch, nothing new starts: a run nobody can stop or
        freeze must not go on."""
        try:
            while not done.wait(POLL_SECONDS):
                self._poll_signals()
        except Exception as e:
            self.unwatched = f"cannot watch for stop and freeze: {type(e).__name__}: {e}"
            self.pausing.set()

    def _poll_signals(self) -> None:
        """Read the run's control file and the repository's freeze."""
        signal = control.read(self.run.dir)
        if signal == "stop":
            self.pausing.set()
            self.cancel.set()
        elif signal == "pause" or (signal is None and self._frozen()):
            self.pausing.set()

    def _frozen(self) -> bool:
        from swamp import freeze

        return freeze.is_frozen(self.repo.root)

    def _final_state(self) -> tuple[str, str | None]:
        jobs = self.run.state.jobs
        if INTERRUPT.requested.is_set():
            return "interrupted", interrupt_reason()
        if self.unwatched:
            return "failed", self.unwatched
        if self.cancel.is_set():
            return "stopped", "stopped on request"
        failed = [n for n, j in jobs.items() if j.state == "failed"]
        held = [n for n, j in jobs.items() if j.state == "held"]
        if failed:
            return "failed", f"job {failed[0]} failed: {jobs[failed[0]].reason or ''}".strip()
        if held:
            return "held", "on hold before " + ", ".join(held)
        if self.pausing.is_set() and any(j.state not in TERMINAL for j in jobs.values()):
            if self._frozen():
                return "paused", "paused: the repository is frozen"
            return "paused", "paused on request"
        if all(j.state in TERMINAL for j in jobs.values()):
            return "succeeded", None
        pending = [n for n, j in jobs.items() if j.state not in TERMINAL]
        return "failed", "could not start " + ", ".join(pending)

    def _schedule_jobs(self) -> None:
        jobs = self.workflow.jobs
        running: dict[Future[None], str] = {}
        started: set[str] = set()  # a job that went back to pending waits for a resume
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            while True:
                if not self._should_stop(self.cancel):
                    for name in self._ready(jobs):
                        if len(running) >= self.concurrency:
                            break
                        if name in started:
                            continue
                        started.add(name)
                        self.record("job-state", job=name, state="running")
                        running[pool.submit(self._run_job, jobs[name])] = name
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    name = running.pop(fut)
                    exc = fut.exception()
                    if exc is not None:  # a bug, not a user error: fail the job
                        self.failed.set()
                        self.record(
                            "job-state", job=name, state="failed", reason=f"internal error: {exc}"
                        )

    def _ready(self, jobs: Mapping[str, Job]) -> list[str]:
        """Jobs that can start now, after holding or skipping what must be."""
        ready = []
        for name, job in jobs.items():
            js = self.job_state(name)
            if js.state == "held" and js.released_by:
                ready.append(name)
                continue
            if js.state != "pending":
                continue
            verdict = self._deps_verdict(job.depends_on, lambda n: (self.job_state(n).state, False))
            if verdict is None:
                continue
            if isinstance(verdict, str):
                self.record("job-state", job=name, state="skipped", reason=verdict)
                continue
            if self.failed.is_set() and not _handles_failure(job.depends_on):
                continue
            if job.hold and not js.released_by:
                prompt = self._render_text(job.hold, self._context())
                self.record("job-state", job=name, state="held", prompt=prompt)
                continue
            ready.append(name)
        return ready

    def _deps_verdict(
        self, deps: Sequence[Dependency], lookup: Callable[[str], tuple[str, bool]]
    ) -> bool | str | None:
        """True to start, a reason string to skip, None to wait."""
        for dep in deps:
            state, allowed = lookup(dep.name)
            met = condition_met(dep, state, allowed)
            if met is None:
                return None
            if not met:
                if state == "failed" and not allowed and dep.condition == "succeeded":
                    return None  # wait: a resume may make it succeed
                return f"{dep.name} {state} (needs {dep.condition})"
        return True

    # -- jobs ------------------------------------------------------------------

    def _run_job(self, job: Job) -> None:
        job_cancel = threading.Event()
        failure: list[str] = []
        if job.prechecks:
            bad = self._run_group(job, job.prechecks, "precheck:", {}, job_cancel, parallel=True)
            if bad:
                self._finish_job(job, "failed", f"precheck {bad} failed")
                return
        checker = None
        stop_checks = threading.Event()
        if job.checks:
            checker = threading.Thread(
                target=self._run_checks, args=(job, job_cancel, stop_checks, failure), daemon=True
            )
            checker.start()
        try:
            if job.for_each:
                reason, keys = self._run_for_each(job, job_cancel)
            else:
                bad = self._run_group(job, job.steps, "", {}, job_cancel)
                reason, keys = (f"step {bad} failed" if bad else None), [s.name for s in job.steps]
        finally:
            stop_checks.set()
            if checker:
                checker.join()
        steps = self.job_state(job.name).steps
        if failure:
            self._finish_job(job, "failed", failure[0])
        elif INTERRUPT.requested.is_set() and not all(
            k in steps and steps[k].state in TERMINAL for k in keys
        ):
            self._finish_job(job, "stopped", interrupt_reason())
        elif self.cancel.is_set():
            self._finish_job(job, "stopped", "stopped on request")
        elif reason:
            self._finish_job(job, "failed", reason)
        elif all(k in steps and steps[k].state in TERMINAL for k in keys):
            self._finish_job(job, "succeeded", None)
        else:
            # Paused, or a step waits on a failure elsewhere: continue on resume.
            self.record("job-state", job=job.name, state="pending", reason="interrupted")

    def _finish_job(self, job: Job, state: str, reason: str | None) -> None:
        if state == "failed":
            self.failed.set()
        self.record("job-state", job=job.name, state=state, reason=reason)

    def _run_for_each(self, job: Job, job_cancel: threading.Event) -> tuple[str | None, list[str]]:
        """Run the steps once per item; (a failure reason, the step keys)."""
        fe = job.for_each
        assert fe is not None
        items = fe.items
        if isinstance(items, str):
            try:
                items = expressions.render(items, self._context())
            except expressions.ExpressionError as e:
                return str(e), []
        if not isinstance(items, list):
            return f"forEach.items is not a list (got {type(items).__name__})", []
        failures = 0
        stop_new = threading.Event()
        lock = threading.Lock()

        def one(index: int, value: Any) -> None:
            nonlocal failures
            if self._should_stop(job_cancel) or stop_new.is_set():
                return
            bad = self._run_group(
                job, job.steps, f"[{index}]", {"item": value}, job_cancel, suffix=True
            )
            if bad:
                with lock:
                    failures += 1
                    if failures > fe.tolerated_failures:
                        stop_new.set()

        with ThreadPoolExecutor(max_workers=fe.concurrency) as pool:
            for f in [pool.submit(one, i, v) for i, v in enumerate(items)]:
                f.result()
        keys = [f"{s.name}[{i}]" for i in range(len(items)) for s in job.steps]
        if failures > fe.tolerated_failures:
            return (
                f"{failures} of {len(items)} items failed (tolerated: {fe.tolerated_failures})",
                keys,
            )
        return None, keys

    def _run_checks(
        self,
        job: Job,
        job_cancel: threading.Event,
        stop: threading.Event,
        failure: list[str],
    ) -> None:
        assert job.checks is not None
        rounds = 0
        try:
            while not stop.wait(job.checks.interval if rounds else 0):
                rounds += 1
                bad = self._run_group(
                    job,
                    job.checks.steps,
                    "check:",
                    {},
                    threading.Event(),
                    parallel=True,
                    record_success=rounds == 1,
                )
                if bad:
                    failure.append(f"check {bad} failed")
                    job_cancel.set()
                    return
        except Exception as e:  # a job whose checks cannot run is not left unchecked
            failure.append(f"checks stopped: internal error: {type(e).__name__}: {e}")
            job_cancel.set()

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

        # Event-driven, so that the work per step does not grow with the
        # number of steps: a step is looked at once all it depends on has
        # finished, and its outputs are added as it finishes.
        keys = {s.name: key(s) for s in steps}

        def finished(name: str) -> bool:
            st = jstate.steps.get(keys[name])
            return st is not None and st.state in TERMINAL

        def lookup(name: str) -> tuple[str, bool]:
            d = jstate.steps.get(keys[name])
            return (d.state, d.allowed) if d else ("pending", False)

        dependents: dict[str, list[Step]] = {}
        waiting: dict[str, int] = {}
        for s in steps:
            for d in s.depends_on:
                dependents.setdefault(d.name, []).append(s)
            waiting[s.name] = sum(1 for d in s.depends_on if not finished(d.name))
        frontier = [s for s in steps if waiting[s.name] == 0 and not finished(s.name)]
        outputs: dict[str, Any] = {}
        for s in steps:
            self._add_output(outputs, jstate, s.name, keys[s.name])
        while True:
            if self._should_stop(job_cancel):
                return failed
            ready: list[Step] = []
            later: list[Step] = []
            ended: list[Step] = []
            for s in frontier:
                if finished(s.name):
                    continue
                verdict = self._deps_verdict(s.depends_on, lookup)
                if verdict is None:
                    later.append(s)  # waits on a failure that a resume may mend
                    continue
                if isinstance(verdict, str):
                    self.record(
                        "step-finished",
                        job=job.name,
                        step=keys[s.name],
                        state="skipped",
                        error=verdict,
                    )
                    ended.append(s)
                    continue
                if (
                    self.failed.is_set()
                    and not _handles_failure(job.depends_on)
                    and not _handles_failure(s.depends_on)
                ):
                    later.append(s)
                    continue
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
                for nxt in dependents.get(s.name, ()):
                    waiting[nxt.name] -= 1
                    if waiting[nxt.name] == 0:
                        later.append(nxt)
            frontier = later

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
        if st is not None and st.state in ("succeeded", "failed"):
            outputs[name] = {"outputs": st.outputs, "state": st.state}

    @staticmethod
    def _needs_run(jstate: JobState, key: str) -> bool:
        st = jstate.steps.get(key)
        return st is None or st.state != "succeeded"

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
                    "step-started", job=job.name, step=key, attempt=attempt, target=step.target
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
        state = "succeeded" if outcome.ok else "failed"
        if not outcome.ok and INTERRUPT.requested.is_set():
            # Its outcome is unknown: a resume decides (engine/unknown.py).
            state = "interrupted"
            outcome.error = f"{interrupt_reason()} while running ({outcome.error})"
        elif not outcome.ok and (self.cancel.is_set() or job_cancel.is_set()):
            state = "stopped" if self.cancel.is_set() else "failed"
        self.record(
            "step-finished",
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
        problems = schemas.messages(inputs, method.inputs, "input")
        if problems:
            return Outcome(ok=False, error=f"{step.target}: " + "; ".join(problems))
        ctx = self._execution_context(step, job_cancel)
        return call_method(model, method, base_context(self.repo.config, inputs), ctx)

    def _execution_context(self, step: Step, job_cancel: threading.Event) -> ExecutionContext:
        return ExecutionContext(
            workdir=self.repo.root,
            timeout=step.timeout or self.repo.config.step_timeout,
            cancel=_Linked(self.cancel, job_cancel, INTERRUPT.requested),
            grace=self.repo.config.stop_grace,
            kill_now=INTERRUPT.kill_now,
            environment=step_environment(self.repo.config),
        )

    def _nested(
        self,
        job: Job,
        step: Step,
        key: str,
        inputs: dict[str, Any],
        job_cancel: threading.Event,
    ) -> Outcome:
        assert step.workflow is not None
        if self.depth + 1 > MAX_DEPTH:
            return Outcome(ok=False, error=f"workflows nested deeper than {MAX_DEPTH}")
        wf = self.repo.workflows.get(step.workflow)
        if wf is None:
            return Outcome(ok=False, error=f"unknown workflow {step.workflow}")
        inputs = apply_defaults(inputs, wf.inputs)
        problems = schemas.messages(inputs, wf.inputs, "input")
        if problems:
            return Outcome(ok=False, error=f"workflow {wf.name}: " + "; ".join(problems))
        folder = self.run.dir / "nested" / f"{job.name}.{key}"
        child = open_child(folder) or create_run(
            self.repo.root,
            wf,
            kind="workflow",
            inputs=inputs,
            by=self.run.state.by,
            concurrency=self.concurrency,
            run_dir=folder,
            run_id=f"{self.run.id}/{job.name}.{key}",
        )
        try:
            final = Runner(
                self.repo,
                wf,
                child,
                concurrency=self.concurrency,
                depth=self.depth + 1,
                parent_cancel=_Linked(self.cancel, job_cancel, INTERRUPT.requested),
            ).execute()
        finally:
            child.journal.close()
        outputs = {"jobs": child.state.outputs()}
        if final == "succeeded":
            return Outcome(ok=True, outputs=outputs)
        if final == "held":
            return Outcome(
                ok=False,
                outputs=outputs,
                error=f"nested workflow {wf.name} is on hold; holds work only in the "
                "workflow a run starts with",
            )
        error = f"nested workflow {wf.name} {final}: {child.state.reason or ''}".rstrip(": ")
        first = _first_failure(child.state)
        if first:
            error += f"; {first}"
        return Outcome(ok=False, outputs=outputs, error=error)


def _first_failure(state: RunState) -> str | None:
    """`job/step: error` of the first step that failed and counts."""
    for j, job in state.jobs.items():
        for k, st in job.steps.items():
            if st.state == "failed" and not st.allowed:
                return f"{j}/{k}: {st.error}"
    return None


def _runs_again(step: StepState) -> bool:
    """Whether a resume runs the step again (engine/unknown.py decides first
    whether one whose outcome is unknown may)."""
    status = step.state
    match status:
        case StepStatus.RUNNING | StepStatus.STOPPED | StepStatus.INTERRUPTED:
            return True
        case StepStatus.FAILED:
            return not step.allowed
        case StepStatus.PENDING | StepStatus.SUCCEEDED | StepStatus.SKIPPED:
            return False
        case _:
            assert_never(status)


def _handles_failure(deps: Sequence[Dependency]) -> bool:
    return any(d.condition != "succeeded" for d in deps)


class _Linked(threading.Event):
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
