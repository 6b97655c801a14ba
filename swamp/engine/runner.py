"""Executing a run: jobs in parallel up to a limit, in dependency order
(schedule.py), each job's steps run by steps.py, with its prechecks,
continuous checks and forEach; the run's final state.

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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, assert_never

from swamp import expressions, schemas
from swamp.definitions import MAX_DEPTH, Job, Step
from swamp.engine import schedule
from swamp.engine.events import JobReset, JobStateSet, RunStateSet, StepReset
from swamp.engine.runs import NewRun, create_run, open_child
from swamp.engine.state import (
    JobStatus,
    RunStatus,
    StepState,
    StepStatus,
    finished,
    write_snapshot,
)
from swamp.engine.steps import Linked, Progress, StepRunner
from swamp.inputs import apply_defaults
from swamp.interrupts import STATE as INTERRUPT
from swamp.interrupts import reason as interrupt_reason
from swamp.types.base import Outcome

__all__ = ["Progress", "Runner"]

POLL_SECONDS = 0.2


class Runner(StepRunner):
    """Executes (or continues) one run of one workflow."""

    # -- the run ---------------------------------------------------------------

    def execute(self) -> RunStatus:
        """Run until nothing more can start; return the run's final state."""
        self._prepare_resume()
        self.record(RunStateSet, state=RunStatus.RUNNING)
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
        in_flight = None
        if final == RunStatus.INTERRUPTED:
            in_flight = tuple(self.run.state.interrupted_steps())
        self.record(RunStateSet, state=final, reason=reason, in_flight=in_flight)
        write_snapshot(self.run.dir, self.run.state)
        return final

    def _prepare_resume(self) -> None:
        """Jobs interrupted, failed or stopped go back to pending; their
        succeeded steps are kept, the others run again."""
        for name, job in list(self.run.state.jobs.items()):
            match job.state:
                case JobStatus.RUNNING | JobStatus.FAILED | JobStatus.STOPPED | JobStatus.PENDING:
                    for key, step in list(job.steps.items()):
                        if _runs_again(step):
                            self.record(StepReset, job=name, step=key)
                    if job.state != JobStatus.PENDING:
                        self.record(JobReset, job=name)
                case JobStatus.HELD | JobStatus.SUCCEEDED | JobStatus.SKIPPED:
                    pass  # a hold waits for its release; the others are done
                case _:
                    assert_never(job.state)

    def _watch(self, done: threading.Event) -> None:
        """Poll while steps run, so that a stop from another terminal
        terminates them (step boundaries check too, see _should_stop).
        If it cannot watch, nothing new starts (see _poll_signals)."""
        while not self.unwatched and not done.wait(POLL_SECONDS):
            self._poll_signals()

    def _final_state(self) -> tuple[RunStatus, str | None]:
        if INTERRUPT.requested.is_set():
            return RunStatus.INTERRUPTED, interrupt_reason()
        if self.unwatched:
            return RunStatus.FAILED, self.unwatched
        if self.cancel.is_set():
            return RunStatus.STOPPED, "stopped on request"
        failed: list[str] = []
        held: list[str] = []
        unfinished: list[str] = []
        for name, job in self.run.state.jobs.items():
            match job.state:
                case JobStatus.FAILED:
                    failed.append(name)
                case JobStatus.HELD:
                    held.append(name)
                    unfinished.append(name)
                case JobStatus.PENDING | JobStatus.RUNNING:
                    unfinished.append(name)
                case JobStatus.SUCCEEDED | JobStatus.SKIPPED | JobStatus.STOPPED:
                    pass
                case _:
                    assert_never(job.state)
        if failed:
            reason = self.job_state(failed[0]).reason or ""
            return RunStatus.FAILED, f"job {failed[0]} failed: {reason}".strip()
        if held:
            return RunStatus.HELD, "on hold before " + ", ".join(held)
        if self.pausing.is_set() and unfinished:
            if self._frozen():
                return RunStatus.PAUSED, "paused: the repository is frozen"
            return RunStatus.PAUSED, "paused on request"
        if not unfinished:
            return RunStatus.SUCCEEDED, None
        return RunStatus.FAILED, "could not start " + ", ".join(unfinished)

    def _schedule_jobs(self) -> None:
        """Start jobs as what they depend on finishes, up to the concurrency."""
        jobs = self.workflow.jobs
        order = schedule.Ordering(
            {name: [d.name for d in job.depends_on] for name, job in jobs.items()},
            lambda name: finished(self.job_state(name).state),
        )
        index = {name: i for i, name in enumerate(jobs)}
        candidates: list[str] = []  # what it depends on has finished; not started yet
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            while True:
                candidates = sorted({*candidates, *order.ready()}, key=index.__getitem__)
                if not self._should_stop(self.cancel):
                    for name in self._ready(candidates, order):
                        if len(running) >= self.concurrency:
                            break
                        candidates.remove(name)
                        self.record(JobStateSet, job=name, state=JobStatus.RUNNING)
                        running[pool.submit(self._run_job, jobs[name])] = name
                if not running:
                    return
                # With a timeout: a signal the kernel hands to another thread
                # runs its Python handler only once this thread wakes up.
                done, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for fut in done:
                    name = running.pop(fut)
                    exc = fut.exception()
                    if exc is not None:  # a bug, not a user error: fail the job
                        self.failed.set()
                        self.record(
                            JobStateSet,
                            job=name,
                            state=JobStatus.FAILED,
                            reason=f"internal error: {exc}",
                        )
                    order.done(name)

    def _ready(self, candidates: list[str], order: schedule.Ordering) -> list[str]:
        """The candidates that can start now, after holding or skipping what
        must be (those leave the candidates, as do those that wait for a resume)."""
        ready = []
        for name in list(candidates):
            job = self.workflow.jobs[name]
            js = self.job_state(name)
            if js.state == JobStatus.HELD and js.released_by:
                ready.append(name)
                continue
            if js.state != JobStatus.PENDING:
                candidates.remove(name)
                continue
            verdict = schedule.verdict(job.depends_on, lambda n: (self.job_state(n).state, False))
            if verdict is None:
                candidates.remove(name)  # waits on a failure that a resume may mend
                continue
            if isinstance(verdict, str):
                self.record(JobStateSet, job=name, state=JobStatus.SKIPPED, reason=verdict)
                candidates.remove(name)
                order.done(name)
                continue
            if self.failed.is_set() and not schedule.handles_failure(job.depends_on):
                candidates.remove(name)  # after a failure: left for a resume
                continue
            if job.hold and not js.released_by:
                prompt = self._render_text(job.hold, self._context())
                self.record(JobStateSet, job=name, state=JobStatus.HELD, prompt=prompt)
                candidates.remove(name)
                continue
            ready.append(name)
        return ready

    # -- jobs ------------------------------------------------------------------

    def _run_job(self, job: Job) -> None:
        job_cancel = threading.Event()
        failure: list[str] = []
        if job.prechecks:
            bad = self._run_group(job, job.prechecks, "precheck:", {}, job_cancel, parallel=True)
            if bad:
                self._finish_job(job, JobStatus.FAILED, f"precheck {bad} failed")
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
        all_finished = all(k in steps and finished(steps[k].state) for k in keys)
        # An interrupted step is finished for this invocation, but its job did
        # not fail: the signal cut it short, as it does a job with steps left.
        cut_short = not all_finished or any(
            k in steps and steps[k].state == StepStatus.INTERRUPTED for k in keys
        )
        if failure:
            self._finish_job(job, JobStatus.FAILED, failure[0])
        elif INTERRUPT.requested.is_set() and cut_short:
            self._finish_job(job, JobStatus.STOPPED, interrupt_reason())
        elif self.unwatched and not all_finished:
            self._finish_job(job, JobStatus.FAILED, self.unwatched)
        elif self.cancel.is_set():
            self._finish_job(job, JobStatus.STOPPED, "stopped on request")
        elif reason:
            self._finish_job(job, JobStatus.FAILED, reason)
        elif all_finished:
            self._finish_job(job, JobStatus.SUCCEEDED, None)
        else:
            # Paused, or a step waits on a failure elsewhere: continue on resume.
            self.record(JobStateSet, job=job.name, state=JobStatus.PENDING, reason="interrupted")

    def _finish_job(self, job: Job, state: JobStatus, reason: str | None) -> None:
        if state == JobStatus.FAILED:
            self.failed.set()
        self.record(JobStateSet, job=job.name, state=state, reason=reason)

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
        new = NewRun(
            "workflow", wf.name, inputs, self.run.state.by, run_id=f"{self.run.id}/{job.name}.{key}"
        )
        child = open_child(folder) or create_run(
            self.repo.root, wf, new, concurrency=self.concurrency, run_dir=folder
        )
        try:
            final = Runner(
                self.repo,
                wf,
                child,
                concurrency=self.concurrency,
                depth=self.depth + 1,
                parent_cancel=Linked(self.cancel, job_cancel, INTERRUPT.requested),
            ).execute()
        finally:
            child.journal.close()
        outputs = {"jobs": child.state.outputs()}
        match final:
            case RunStatus.SUCCEEDED:
                return Outcome(ok=True, outputs=outputs)
            case RunStatus.HELD:
                return Outcome(
                    ok=False,
                    outputs=outputs,
                    error=f"nested workflow {wf.name} is on hold; holds work only in the "
                    "workflow a run starts with",
                )
            case (
                RunStatus.FAILED
                | RunStatus.STOPPED
                | RunStatus.INTERRUPTED
                | RunStatus.PAUSED
                | RunStatus.CREATED
                | RunStatus.RUNNING
                | RunStatus.CANCELLED
            ):
                reason = child.state.reason or ""
                error = f"nested workflow {wf.name} {final}: {reason}".rstrip(": ")
                failed = child.state.failed_steps()
                if failed:
                    j, k, st = failed[0]
                    error += f"; {j}/{k}: {st.error}"
                return Outcome(ok=False, outputs=outputs, error=error)
            case _:
                assert_never(final)


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
