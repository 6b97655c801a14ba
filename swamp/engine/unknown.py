"""Steps whose outcome is unknown are never run again silently.

A step that was in flight when swamp died (`running` in the journal, and no
process owns the run), was interrupted by a signal (`interrupted`) or was
terminated by `swamp run stop` (`stopped`) may or may not have acted. Running
it again may act twice. So a resume (`run resume`, `queue execute --item`, a
reclaim) runs such a step again only when its definition says that is safe
(`idempotent: true` on the step, or on the model's method) or the operator
says so (`--rerun-unknown`).
"""

from __future__ import annotations

import re
from pathlib import Path

from swamp.definitions import Job, Step, Workflow
from swamp.engine.journal import JOURNAL
from swamp.engine.runs import RunHandle
from swamp.engine.state import RunState, load_state, outcome_unknown
from swamp.repo import Repository

_INDEX = re.compile(r"\[[0-9]+\]$")


def unknown_steps(repo: Repository, workflow: Workflow, run: RunHandle) -> list[str]:
    """`job/step` of every step with an unknown outcome that is not safe to repeat."""
    return _walk(repo, workflow, run.state, run.dir)


def _walk(repo: Repository, workflow: Workflow, state: RunState, folder: Path) -> list[str]:
    found: list[str] = []
    for job_name, js in state.jobs.items():
        job = workflow.jobs.get(job_name)
        for key, st in js.steps.items():
            if not outcome_unknown(st.state):
                continue
            step = _definition(job, key) if job is not None else None
            if step is not None and step.workflow:
                # A nested workflow: what decides is the steps it had in flight.
                child = folder / "nested" / f"{job_name}.{key}"
                wf = repo.workflows.get(step.workflow)
                if wf is not None and (child / JOURNAL).is_file():
                    found += [
                        f"{job_name}/{key} > {inner}"
                        for inner in _walk(repo, wf, load_state(child), child)
                    ]
                continue
            if step is None or not _repeatable(repo, step):
                found.append(f"{job_name}/{key}")
    return found


def _definition(job: Job, key: str) -> Step | None:
    """The step a journal key names: `name`, `name[3]` (forEach),
    `precheck:name` or `check:name`."""
    steps: tuple[Step, ...] = job.steps
    if key.startswith("precheck:"):
        steps, key = job.prechecks, key.removeprefix("precheck:")
    elif key.startswith("check:"):
        steps, key = (job.checks.steps if job.checks else ()), key.removeprefix("check:")
    key = _INDEX.sub("", key)
    return next((s for s in steps if s.name == key), None)


def _repeatable(repo: Repository, step: Step) -> bool:
    if step.idempotent:
        return True
    if step.model is None or step.method is None:
        return False
    model = repo.models.get(step.model)
    method = model.methods.get(step.method) if model is not None else None
    return method is not None and method.idempotent


def refusal(run_id: str, unknown: list[str]) -> str:
    return (
        f"run {run_id}: the outcome of {', '.join(unknown)} is unknown (it was in flight "
        "when swamp died or was interrupted, and may have acted); check what it did, then "
        f"resume with `swamp run resume {run_id} --rerun-unknown`, or declare the step "
        "or its method `idempotent: true`"
    )
