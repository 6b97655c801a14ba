"""How a run's outcome is told to the user (shared by every command that
starts or continues runs)."""

from __future__ import annotations

import json
from typing import Any

from swamp import output
from swamp.engine.state import RunState

EXIT = {"succeeded": 0, "held": 0, "paused": 0, "failed": 1, "stopped": 1, "interrupted": 130}


# Outputs every command step has; shown in `run show`, not in summaries.
NOISY_OUTPUTS = frozenset({"stdout", "stderr", "exitCode"})


def show_value(value: Any) -> str:
    """A value as a person reads it: strings bare, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def brief_outputs(outputs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={show_value(v)}" for k, v in outputs.items() if k not in NOISY_OUTPUTS)


def _presenter(target: str, what: str) -> Any:
    """The type's own way (`present`, `brief`) of showing a step's outputs, for
    steps that name a type (inline tasks such as a Mender workflow's)."""
    if "/" not in target:
        return None
    from swamp.errors import SwampError
    from swamp.types import registry

    if not registry.has_task_type(target):
        return None
    try:
        return getattr(registry.get_type(target), what, None)
    except SwampError:
        return None


def step_lines(target: str, outputs: dict[str, Any]) -> list[str] | None:
    """Lines for `run show`, if the step's type presents its outputs itself."""
    present = _presenter(target, "present")
    return list(present(outputs)) if present and outputs else None


def step_brief(target: str, outputs: dict[str, Any]) -> str:
    brief = _presenter(target, "brief")
    return str(brief(outputs)) if brief and outputs else brief_outputs(outputs)


def run_summary(state: RunState) -> dict[str, Any]:
    failed = [{"job": j, "step": k, "error": s.error} for j, k, s in state.failed_steps()]
    return {
        "run": state.id,
        "state": state.state,
        "reason": state.reason,
        "kind": state.kind,
        "target": state.target,
        "held": [
            {"job": j, "prompt": job.prompt} for j, job in state.jobs.items() if job.state == "held"
        ],
        "failed": failed,
        "outputs": state.outputs(),
    }


def tell(state: RunState, *, as_json: bool) -> int:
    if as_json:
        output.as_json(run_summary(state))
        return EXIT.get(state.state, 1)
    if state.state == "succeeded":
        output.out(f"run {state.id} succeeded")
        for job_name, data in state.outputs().items():
            for step, s in data["steps"].items():
                shown = step_brief(state.jobs[job_name].steps[step].target, s["outputs"])
                if shown:
                    output.out(f"  {job_name}/{step}: {shown}")
    elif state.state == "held":
        for j, job in state.jobs.items():
            if job.state == "held":
                output.out(f"job {j} is on hold: {job.prompt or ''}".rstrip(": "))
                output.out(f"  release it with: swamp workflow release {j} --run {state.id}")
    elif state.state == "failed":
        output.out(f"run {state.id} failed: {state.reason or ''}".rstrip(": "))
        for j, job in state.jobs.items():
            for k, s in job.steps.items():
                if s.state == "failed" and not s.allowed:
                    output.out(f"  {j}/{k}: {s.error}")
                    if s.stderr:
                        for line in s.stderr.splitlines()[-5:]:
                            output.out(f"    | {line}")
        output.out(f"  after fixing the cause, continue with: swamp run resume {state.id}")
    elif state.state == "interrupted":
        from swamp.engine.service import interrupted

        output.err(f"swamp: {interrupted(state)}")
    elif state.state == "paused":
        output.out(f"run {state.id} paused; continue with: swamp run resume {state.id}")
    else:
        output.out(f"run {state.id} {state.state}: {state.reason or ''}".rstrip(": "))
        output.out(f"  continue with: swamp run resume {state.id}")
    return EXIT.get(state.state, 1)
