from __future__ import annotations

from pathlib import Path

from swamp import output
from swamp.commands.report import tell
from swamp.engine import runs, service
from swamp.engine.control import is_active
from swamp.engine.state import load_state
from swamp.errors import SwampError
from swamp.identity import who
from swamp.inputs import apply_defaults, check_inputs, parse_inputs
from swamp.repo import load_repository


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
    result = service.start(
        repo,
        "workflow",
        name,
        inputs,
        by=who(by, repo.root),
        concurrency=concurrency,
        quiet=as_json,
    )
    return tell(result.state, as_json=as_json)


def release(
    repo_path: Path | None, job: str, run_id: str | None, *, by: str | None, as_json: bool
) -> int:
    repo = load_repository(repo_path)
    if run_id:
        handle = runs.open_run(repo.root, run_id)
        js = handle.state.jobs.get(job)
        if js is None or js.state != "held":
            held = [j for j, s in handle.state.jobs.items() if s.state == "held"]
            handle.journal.close()
            raise SwampError(
                f"job {job!r} of run {handle.id} is not on hold"
                + (f" (held: {', '.join(held)})" if held else " (nothing is on hold)")
            )
    else:
        candidates = []
        for folder in runs.iter_run_dirs(repo.root):
            state = load_state(folder)
            if state.state == "held" and state.jobs.get(job) and state.jobs[job].state == "held":
                candidates.append(state.id)
        if not candidates:
            raise SwampError(f"no run has job {job!r} on hold (see `swamp run list --state held`)")
        if len(candidates) > 1:
            lines = "\n".join(f"  swamp workflow release {job} --run {c}" for c in candidates)
            raise SwampError(f"several runs hold job {job!r}; say which:\n{lines}")
        handle = runs.open_run(repo.root, candidates[0])
    if is_active(handle.dir):
        handle.journal.close()
        raise SwampError(f"run {handle.id} is executing; release it when it has stopped")
    repo.require_valid()
    handle.record("job-released", job=job, by=who(by, repo.root))
    if not as_json:
        output.out(f"released job {job} of run {handle.id}")
    result = service.resume(repo, handle, quiet=as_json)
    return tell(result.state, as_json=as_json)


def graph(repo_path: Path | None, name: str, fmt: str) -> int:
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
