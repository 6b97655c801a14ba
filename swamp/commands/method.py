from __future__ import annotations

from pathlib import Path

from swamp import output
from swamp.commands.report import NOISY_OUTPUTS, exit_code, run_summary, show_value
from swamp.engine import service
from swamp.engine.runs import NewRun
from swamp.engine.state import RunStatus
from swamp.identity import who
from swamp.inputs import apply_defaults, check_inputs, parse_inputs
from swamp.validate import load_repository


def run(
    repo_path: Path | None,
    model_name: str,
    method_name: str,
    pairs: list[str],
    input_files: list[Path],
    *,
    by: str | None = None,
    as_json: bool,
) -> int:
    repo = load_repository(repo_path)
    model = repo.model(model_name)
    repo.require_valid([model.file])
    wf = service.target_workflow(repo, "method", f"{model_name}.{method_name}")
    inputs = apply_defaults(parse_inputs(pairs, input_files), wf.inputs)
    check_inputs(inputs, wf.inputs, f"{model.name}.{method_name}")
    result = service.start(repo, NewRun("method", wf.name, inputs, who(by, repo.root)), quiet=True)
    state = result.state
    step = state.jobs[method_name].steps.get(method_name)
    if as_json:
        summary = run_summary(state)
        summary["outputs"] = step.outputs if step else {}
        summary["error"] = step.error if step else state.reason
        output.as_json(summary)
        return exit_code(state.state)
    if step is not None:
        for key, value in step.outputs.items():
            if key not in NOISY_OUTPUTS:
                output.out(f"{key}: {show_value(value)}")
        stdout = step.outputs.get("stdout")
        if isinstance(stdout, str) and stdout.strip():
            output.out(stdout.rstrip("\n"))
    if state.state != RunStatus.SUCCEEDED:
        error = step.error if step and step.error else state.reason
        output.error(f"{model.name}.{method_name} failed: {error} (run {state.id})")
    return exit_code(state.state)
