from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from swamp import items, output
from swamp.commands.report import tell
from swamp.engine import runs, service
from swamp.engine.control import is_active
from swamp.engine.events import JobReleased
from swamp.engine.journal import CorruptRun
from swamp.engine.runs import NewRun
from swamp.engine.state import JobStatus, RunStatus, load_state
from swamp.errors import SwampError
from swamp.identity import who
from swamp.inputs import apply_defaults, check_inputs, parse_inputs
from swamp.publish import NONE, Publish, open_repo, record
from swamp.queue import item_runs
from swamp.repo import Repository
from swamp.timing import iso, utcnow
from swamp.validate import load_repository

if TYPE_CHECKING:
    from swamp.gitrepo import Repo


def run(
    repo_path: Path | None,
    name: str,
    pairs: list[str],
    input_files: list[Path],
    *,
    concurrency: int | None,
    by: str | None,
    as_json: bool,
) -> int:
    repo = load_repository(repo_path)
    wf = repo.workflow(name)
    repo.require_valid(repo.workflow_files(name))
    inputs = apply_defaults(parse_inputs(pairs, input_files), wf.inputs)
    check_inputs(inputs, wf.inputs, f"workflow {name}")
    new = NewRun("workflow", name, inputs, who(by, repo.root), concurrency=concurrency)
    result = service.start(repo, new, quiet=as_json)
    return tell(result.state, as_json=as_json)


def release(
    repo_path: Path | None,
    job: str,
    run_id: str | None,
    *,
    by: str | None,
    as_json: bool,
    publish: Publish = NONE,
    staged: bool = False,
) -> int:
    repo, git = open_repo(repo_path, publish)
    actor = who(by, repo.root)
    if staged:
        return _stage_release(repo, git, publish, job, run_id, actor, as_json=as_json)
    handle = take_release(repo, job, run_id, actor, git=git if publish.push else None)
    if not as_json:
        output.out(f"released job {job} of run {handle.id}")
    result = item_runs.resume(repo, handle, quiet=as_json, git=git if publish.push else None)
    trailers = [("Swamp-Run", result.id), ("Swamp-Released-By", actor)]
    if result.state.item:
        trailers.append(("Swamp-Item", result.state.item))
    record(git, publish, f"swamp: release {job} of run {result.id}: {result.state.state}", trailers)
    if publish.push:
        item_runs.release_lease(git, result.state)
    return tell(result.state, as_json=as_json)


def take_release(
    repo: Repository, job: str, run_id: str | None, actor: str, git: Repo | None = None
) -> runs.RunHandle:
    """Record that `actor` released the held `job`; the open run, ready for
    `item_runs.resume` (with `git`, --push: not while another runner's claim
    holds its item, so that no release is recorded that nothing performs)."""
    handle = _held_run(repo, job, run_id)
    if is_active(handle.dir):
        handle.journal.close()
        raise SwampError(f"run {handle.id} is executing; release it when it has stopped")
    try:
        repo.require_valid()
        if handle.state.item is not None:
            # start-up time: a command loads only what it runs
            from swamp.queue.gate import admit_run

            admit_run(repo, handle.state)  # the same gate as the queue
            if git is not None:
                item_runs.refuse_if_claimed_elsewhere(repo, git, handle.state.item)
    except SwampError:
        handle.journal.close()
        raise
    handle.record(JobReleased, job=job, by=actor)
    return handle


def _held_run(repo: Repository, job: str, run_id: str | None) -> runs.RunHandle:
    if run_id:
        handle = runs.open_run(repo.root, run_id)
        js = handle.state.jobs.get(job)
        if js is None or js.state != JobStatus.HELD:
            held = [j for j, s in handle.state.jobs.items() if s.state == JobStatus.HELD]
            handle.journal.close()
            raise SwampError(
                f"job {job!r} of run {handle.id} is not on hold"
                + (f" (held: {', '.join(held)})" if held else " (nothing is on hold)")
            )
        return handle
    candidates = []
    for folder in runs.iter_run_dirs(repo.root):
        try:
            state = load_state(folder)
        except CorruptRun:
            continue  # `run list` names it; it holds nothing that can be released
        held_job = state.jobs.get(job)
        if state.state == RunStatus.HELD and held_job and held_job.state == JobStatus.HELD:
            candidates.append(state.id)
    if not candidates:
        raise SwampError(f"no run has job {job!r} on hold (see `swamp run list --state held`)")
    if len(candidates) > 1:
        lines = "\n".join(f"  swamp workflow release {job} --run {c}" for c in candidates)
        raise SwampError(f"several runs hold job {job!r}; say which:\n{lines}")
    return runs.open_run(repo.root, candidates[0])


def _stage_release(
    repo: Repository,
    git: Repo | None,
    publish: Publish,
    job: str,
    run_id: str | None,
    actor: str,
    *,
    as_json: bool,
) -> int:
    """Record the release in the held item's file, for review; the runner's
    next `queue execute` performs it."""
    held = [
        i
        for i in items.iter_items(repo.root)
        if isinstance(i, items.Item)
        and i.state == items.ItemState.HELD
        and i.held_job == job
        and (run_id is None or run_id in (i.run or ""))
    ]
    if not held:
        raise SwampError(
            f"no queued item is held before job {job!r}"
            + (f" in run {run_id}" if run_id else "")
            + " (see `swamp queue list`)"
        )
    if len(held) > 1:
        lines = "\n".join(f"  swamp workflow release {job} --stage --run {i.run}" for i in held)
        raise SwampError(f"several items are held before job {job!r}; say which:\n{lines}")
    item = held[0]
    item.stage_release(job, actor, iso(utcnow()))
    item.save()
    rel = item.path.relative_to(repo.root).as_posix()
    sha = record(
        git,
        publish,
        f"swamp: stage release of {job} for item {item.id}",
        [
            ("Swamp-Item", item.id),
            ("Swamp-Run", str(item.run)),
            ("Swamp-Released-By", actor),
        ],
    )
    if as_json:
        output.as_json({"item": item.id, "file": rel, "job": job, "by": actor, "commit": sha})
    else:
        output.out(f"release of job {job} staged in {rel}")
        output.out(
            "  once this change is merged, the runner's next `swamp queue execute` continues it"
        )
    return 0


def graph(repo_path: Path | None, name: str, fmt: str) -> int:
    # start-up time: a command loads only what it runs
    from swamp.engine.graph import mermaid, text

    repo = load_repository(repo_path)
    wf = repo.workflow(name)
    repo.require_valid([wf.file])
    if fmt == "mermaid":
        output.out(mermaid(wf))
    elif fmt == "text":
        output.out(text(wf))
    else:
        raise SwampError(f"unknown format {fmt!r} (expected text or mermaid)")
    return 0
