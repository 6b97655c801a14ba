"""How a run's outcome is told to the user (shared by every command that
starts or continues runs)."""

from __future__ import annotations

import json
from typing import Any, assert_never

from swamp import output
from swamp.engine.service import interrupted
from swamp.engine.state import JobStatus, RunState, RunStatus


def exit_code(status: RunStatus) -> int:
    """How a command that ran (or continued) a run exits."""
    match status:
        case RunStatus.SUCCEEDED | RunStatus.HELD | RunStatus.PAUSED:
            return 0
        case RunStatus.INTERRUPTED:
            return 130
        case (
            RunStatus.FAILED
            | RunStatus.STOPPED
            | RunStatus.CREATED
            | RunStatus.RUNNING
            | RunStatus.CANCELLED
        ):
            return 1
        case _:
            assert_never(status)


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
    # start-up time: a command loads only what it runs
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
            {"job": j, "prompt": job.prompt}
            for j, job in state.jobs.items()
            if job.state == JobStatus.HELD
        ],
        "failed": failed,
        "outputs": state.outputs(),
    }


def tell(state: RunState, *, as_json: bool) -> int:
    if as_json:
        output.as_json(run_summary(state))
        return exit_code(state.state)
    match state.state:
        case RunStatus.SUCCEEDED:
            output.out(f"run {state.id} succeeded")
            for job_name, data in state.outputs().items():
                for step, s in data["steps"].items():
                    shown = step_brief(state.jobs[job_name].steps[step].target, s["outputs"])
                    if shown:
                        output.out(f"  {job_name}/{step}: {shown}")
        case RunStatus.HELD:
            for j, job in state.jobs.items():
                if job.state == JobStatus.HELD:
                    output.out(f"job {j} is on hold: {job.prompt or ''}".rstrip(": "))
                    output.out(f"  release it with: swamp workflow release {j} --run {state.id}")
        case RunStatus.FAILED:
            output.out(f"run {state.id} failed: {state.reason or ''}".rstrip(": "))
            for j, k, s in state.failed_steps():
                output.out(f"  {j}/{k}: {s.error}")
                for line in s.stderr.splitlines()[-5:]:
                    output.out(f"    | {line}")
            output.out(f"  after fixing the cause, continue with: swamp run resume {state.id}")
        case RunStatus.INTERRUPTED:
            output.err(f"swamp: {interrupted(state)}")
        case RunStatus.PAUSED:
            output.out(f"run {state.id} paused; continue with: swamp run resume {state.id}")
        case RunStatus.STOPPED | RunStatus.CREATED | RunStatus.RUNNING | RunStatus.CANCELLED:
            output.out(f"run {state.id} {state.state}: {state.reason or ''}".rstrip(": "))
            output.out(f"  continue with: swamp run resume {state.id}")
        case _:
            assert_never(state.state)
    return exit_code(state.state)
