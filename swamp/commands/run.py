from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from swamp import output
from swamp.commands.report import show_value, step_lines, tell
from swamp.definitions import Workflow, parse_duration
from swamp.engine import control, runs, service
from swamp.engine.events import JobReset, RunStateSet, StepReset
from swamp.engine.journal import CorruptRun
from swamp.engine.state import JobStatus, RunState, RunStatus, load_state
from swamp.errors import SwampError, UsageError
from swamp.publish import NONE, Publish, open_repo, record
from swamp.queue import item_runs
from swamp.repo import Repository
from swamp.timing import iso, parse_iso
from swamp.validate import load_repository

if TYPE_CHECKING:
    from swamp.gitrepo import Repo

STOP_WAIT_SECONDS = 30.0
# What `run list --state` can match: the engine's states ("interrupted" also
# shows a run left running or created by a process that is gone).
RUN_STATES = tuple(RunStatus)


def display_state(state: RunState, folder: Path) -> RunStatus:
    """The run's state, except that one whose process is gone is `interrupted`."""
    match state.state:
        case RunStatus.RUNNING | RunStatus.CREATED:
            return state.state if control.is_active(folder) else RunStatus.INTERRUPTED
        case (
            RunStatus.HELD
            | RunStatus.PAUSED
            | RunStatus.SUCCEEDED
            | RunStatus.FAILED
            | RunStatus.STOPPED
            | RunStatus.INTERRUPTED
            | RunStatus.CANCELLED
        ):
            return state.state
        case _:
            assert_never(state.state)


def _since(value: str) -> str:
    """An ISO time, or a duration back from now (2h, 1d)."""
    try:
        seconds = parse_duration(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        moment = datetime.now(UTC) - timedelta(seconds=seconds)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    try:
        return iso(parse_iso(value))
    except ValueError:
        raise UsageError(
            f"--since {value!r}: expected a time (2026-11-23T10:00Z) or 2h, 1d"
        ) from None


def run_rows(
    repo: Repository, *, state: str | None, workflow: str | None, since: str | None
) -> list[dict[str, Any]]:
    """What `run list --json` prints (and `swamp serve` answers), oldest first."""
    if state is not None and state not in RUN_STATES:
        raise UsageError(f"--state {state!r}: expected one of {', '.join(RUN_STATES)}")
    after = _since(since) if since else None
    rows: list[dict[str, Any]] = []
    for folder in runs.iter_run_dirs(repo.root):
        try:
            st = load_state(folder)
            shown: str = display_state(st, folder)
        except CorruptRun as e:
            # Listed, so that it can be found and deleted; the others still are.
            output.err(f"warning: {e}")
            st, shown = RunState(id=folder.name), "corrupt"
        if state and shown != state:
            continue
        if workflow and workflow not in (st.target, st.workflow):
            continue
        if after and st.created < after:
            continue
        rows.append(
            {
                "run": st.id,
                "state": shown,
                "kind": st.kind,
                "target": st.target,
                "created": st.created,
                "updated": st.updated,
                "by": st.by,
                "item": st.item,
            }
        )
    return rows


def list_runs(
    repo_path: Path | None,
    *,
    state: str | None,
    workflow: str | None,
    since: str | None,
    as_json: bool,
) -> int:
    if state is not None and state not in RUN_STATES:
        raise UsageError(f"--state {state!r}: expected one of {', '.join(RUN_STATES)}")
    repo = load_repository(repo_path)
    rows = run_rows(repo, state=state, workflow=workflow, since=since)
    if as_json:
        output.as_json(rows)
        return 0
    if not rows:
        output.out("no runs" + (" match" if state or workflow or since else " yet"))
        return 0
    width = max(len(r["run"]) for r in rows)
    output.out(f"{'RUN':<{width}}  {'STATE':<11}  {'TARGET':<24}  {'STARTED':<20}  BY")
    for r in rows:
        output.out(
            f"{r['run']:<{width}}  {r['state']:<11}  {r['target']:<24}  "
            f"{r['created'][:19]:<20}  {r['by']}"
        )
    return 0


def _duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return ""
    try:
        a, b = parse_iso(start), parse_iso(end)
    except ValueError:
        return ""
    return f"{(b - a).total_seconds():.1f}s"


def show(repo_path: Path | None, run_id: str, *, as_json: bool) -> int:
    repo = load_repository(repo_path)
    folder = runs.find_run(repo.root, run_id)
    st = load_state(folder)
    if as_json:
        data = st.to_dict()
        data["displayState"] = display_state(st, folder)
        output.as_json(data)
        return 0
    output.out(
        f"run {st.id}: {display_state(st, folder)}" + (f" ({st.reason})" if st.reason else "")
    )
    output.out(f"  {st.kind} {st.target}, started {st.created} by {st.by}")
    if st.inputs:
        output.out("  inputs: " + ", ".join(f"{k}={v}" for k, v in st.inputs.items()))
    if st.ignored_inputs:
        output.out("  ignored inputs (not declared): " + ", ".join(st.ignored_inputs))
    for name, job in st.jobs.items():
        extra = job.prompt if job.state == JobStatus.HELD else job.reason
        output.out(f"  job {name}: {job.state}" + (f" ({extra})" if extra else ""))
        if job.released_by:
            output.out(f"    released by {job.released_by} at {job.released_at}")
        for key, s in job.steps.items():
            tries = f", {s.attempts} attempts" if s.attempts > 1 else ""
            took = _duration(s.started, s.ended)
            output.out(
                f"    step {key}: {s.state}"
                + (f" in {took}" if took else "")
                + tries
                + (f" — {s.error}" if s.error else "")
            )
            lines = step_lines(s.target, s.outputs)  # a type that presents its own
            if lines is None:
                shown = ", ".join(
                    f"{k}={show_value(v)}"
                    for k, v in s.outputs.items()
                    if k not in ("stdout", "stderr")
                )
                lines = [f"outputs: {shown}"] if shown else []
            for line in lines:
                output.out(f"      {line}")
            for label, text in (("stdout", s.stdout), ("stderr", s.stderr)):
                for line in text.splitlines()[-5:]:
                    output.out(f"      {label} | {line}")
    return 0


def resume(
    repo_path: Path | None,
    run_id: str,
    *,
    as_json: bool,
    publish: Publish = NONE,
    rerun_unknown: bool = False,
) -> int:
    repo, git = open_repo(repo_path, publish)
    repo.require_valid()
    handle = runs.open_run(repo.root, run_id)
    result = item_runs.resume(
        repo,
        handle,
        quiet=as_json,
        rerun_unknown=rerun_unknown,
        git=git if publish.push else None,
    )
    trailers = [("Swamp-Run", result.id)]
    if result.state.item:
        trailers.append(("Swamp-Item", result.state.item))
    record(git, publish, f"swamp: resume run {result.id}: {result.state.state}", trailers)
    if publish.push:
        item_runs.release_lease(git, result.state)
    return tell(result.state, as_json=as_json)


def pause(repo_path: Path | None, run_id: str, *, as_json: bool = False) -> int:
    repo = load_repository(repo_path)
    name = request_pause(repo, run_id)
    if as_json:
        output.as_json({"run": name, "requested": "pause"})
    else:
        output.out(f"run {name} will pause after the steps in flight")
    return 0


def request_pause(repo: Repository, run_id: str) -> str:
    """Ask the executing run to pause; its folder's name."""
    folder = runs.find_run(repo.root, run_id)
    if not control.is_active(folder):
        raise SwampError(f"run {folder.name} is not executing; nothing to pause")
    control.send(folder, "pause")
    return folder.name


def stop(repo_path: Path | None, run_id: str, *, as_json: bool = False) -> int:
    repo = load_repository(repo_path)
    name, state = request_stop(repo, run_id)
    if as_json:
        output.as_json({"run": name, "state": state})
    else:
        output.out(f"run {name}: {state}")
    return 0 if state == RunStatus.STOPPED else 1


def request_stop(
    repo: Repository, run_id: str, wait: float = STOP_WAIT_SECONDS, by: str | None = None
) -> tuple[str, str]:
    """Stop a run (an executing one is signalled, and awaited up to `wait`
    seconds); its name and state."""
    folder = runs.find_run(repo.root, run_id)
    if control.is_active(folder):
        control.send(folder, "stop")
        deadline = time.monotonic() + wait
        while control.is_active(folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        return folder.name, str(load_state(folder).state)
    handle = runs.open_run(repo.root, run_id)
    try:
        match handle.state.state:
            case RunStatus.SUCCEEDED | RunStatus.STOPPED | RunStatus.CANCELLED:
                raise SwampError(f"run {handle.id} already {handle.state.state}")
            case (
                RunStatus.CREATED
                | RunStatus.RUNNING
                | RunStatus.HELD
                | RunStatus.PAUSED
                | RunStatus.FAILED
                | RunStatus.INTERRUPTED
            ):
                pass
            case _:
                assert_never(handle.state.state)
        lock = control.RunLock(handle.dir)
        lock.acquire(handle.id)
        try:
            reason = "stopped on request" + (f" by {by}" if by else "")
            handle.record(RunStateSet, state=RunStatus.STOPPED, reason=reason)
        finally:
            lock.release()
    finally:
        handle.journal.close()
    return handle.id, str(RunStatus.STOPPED)


def retry(
    repo_path: Path | None,
    run_id: str,
    step: str,
    job: str | None,
    *,
    as_json: bool,
    publish: Publish = NONE,
) -> int:
    repo, git = open_repo(repo_path, publish)
    pushing = git if publish.push else None
    handle = reset_for_retry(repo, run_id, step, job, git=pushing)
    result = item_runs.resume(repo, handle, quiet=as_json, retrying=True, git=pushing)
    trailers = [("Swamp-Run", result.id)]
    if result.state.item:
        trailers.append(("Swamp-Item", result.state.item))
    subject = f"swamp: retry run {result.id} from {step}: {result.state.state}"
    record(git, publish, subject, trailers)
    if publish.push:
        item_runs.release_lease(git, result.state)
    return tell(result.state, as_json=as_json)


def reset_for_retry(
    repo: Repository, run_id: str, step: str, job: str | None, git: Repo | None = None
) -> runs.RunHandle:
    """Reset the step, what follows it and the jobs that depend on it; the
    open run, ready for `item_runs.resume(..., retrying=True)` (with `git`,
    --push: not while another runner's claim holds its item, so that the
    journal records no reset that nothing performs)."""
    repo.require_valid()
    handle = runs.open_run(repo.root, run_id)
    if control.is_active(handle.dir):
        handle.journal.close()
        raise SwampError(f"run {handle.id} is executing; pause or stop it first")
    if git is not None and handle.state.item is not None:
        try:
            item_runs.refuse_if_claimed_elsewhere(repo, git, handle.state.item)
        except SwampError:
            handle.journal.close()
            raise
    wf = service.target_workflow(repo, handle.state.kind, handle.state.target, handle.state.inputs)
    jobs = [j for j in wf.jobs.values() if any(s.name == step for s in j.steps)]
    if job:
        jobs = [j for j in jobs if j.name == job]
    if not jobs:
        handle.journal.close()
        raise SwampError(
            f"run {handle.id} has no step {step!r}" + (f" in job {job!r}" if job else "")
        )
    if len(jobs) > 1:
        handle.journal.close()
        raise UsageError(
            f"several jobs have a step {step!r} ({', '.join(j.name for j in jobs)}); add --job"
        )
    for job_name, keys in _downstream(wf, jobs[0].name, step).items():
        known = handle.state.jobs.get(job_name)
        for key in list(known.steps) if known else []:
            if key.split("[")[0] in keys:
                handle.record(StepReset, job=job_name, step=key)
        handle.record(JobReset, job=job_name)
    return handle


def _downstream(wf: Workflow, job: str, step: str) -> dict[str, set[str]]:
    """The step, the steps after it in its job, and every step of the jobs
    that depend (transitively) on that job."""
    first = wf.jobs[job]
    keys = {step}
    changed = True
    while changed:
        changed = False
        for s in first.steps:
            if s.name not in keys and any(d.name in keys for d in s.depends_on):
                keys.add(s.name)
                changed = True
    result = {job: keys}
    todo = [job]
    while todo:
        current = todo.pop()
        for j in wf.jobs.values():
            if j.name not in result and any(d.name == current for d in j.depends_on):
                result[j.name] = {s.name for s in j.steps}
                todo.append(j.name)
    return result


def delete(repo_path: Path | None, run_id: str, *, as_json: bool) -> int:
    repo = load_repository(repo_path)
    name = runs.delete_run(repo.root, run_id)
    if as_json:
        output.as_json({"deleted": name})
    else:
        output.out(f"deleted run {name}")
    return 0
