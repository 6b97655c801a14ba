"""The Plan of a change: items added, removed or changed, each validated and
rendered as far as it can be before the run; definitions changed under queued items."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from swamp import expressions, items, secrets, shell_script
from swamp.definitions import MAX_DEPTH, Job, Step, Workflow
from swamp.engine import graph
from swamp.engine.service import target_workflow
from swamp.errors import Problem, SwampError
from swamp.inputs import apply_defaults
from swamp.repo import CONFIG_FILE, DEFINITION_SUFFIXES, Repository, definition_files
from swamp.validate.queue_files import item_problems

if TYPE_CHECKING:
    from swamp.gitrepo import Repo

DEFINITION_FOLDERS = ("models", "workflows")


@dataclass
class PlannedStep:
    job: str
    step: str
    kind: str  # step, precheck, check
    target: str  # model.method, or "workflow NAME"
    arguments: Any
    note: str = ""
    inputs: Any = None  # the step's inputs, rendered as far as possible


@dataclass
class PlannedItem:
    change: str  # added, removed, changed
    file: str
    id: str
    kind: str
    target: str
    inputs: dict[str, Any]
    requested_by: str = ""
    note: str = ""
    timing: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    steps: list[PlannedStep] = field(default_factory=list)
    holds: list[tuple[str, str]] = field(default_factory=list)
    releases: list[tuple[str, str]] = field(default_factory=list)  # (job, its prompt)
    mermaid: str = ""
    stale: list[str] = field(default_factory=list)


@dataclass
class DefinitionChange:
    file: str
    change: str  # added, modified, deleted
    affects: list[str]  # "id (target)" of queued items that depend on it, still runnable
    stale: list[str] = field(default_factory=list)  # those it makes stale


@dataclass
class Plan:
    base: str
    base_commit: str
    items: list[PlannedItem]
    definitions: list[DefinitionChange]
    problems: list[str]

    @property
    def invalid(self) -> bool:
        return bool(self.problems) or any(i.problems for i in self.items)


def make_plan(repo: Repository, git: Repo, base: str) -> Plan:
    base_commit = git.resolve(base)
    if base_commit is None:
        raise SwampError(f"unknown base revision {base!r} (try --base origin/main)")
    point = git.merge_base(base)  # by name: an error names what the user gave
    problems = [str(p) for p in _definition_problems(repo)]
    planned = _item_changes(repo, git, point)
    definitions = _definition_changes(repo, git, point)
    return Plan(base, point, planned, definitions, problems)


def _definition_problems(repo: Repository) -> list[Problem]:
    return sorted(p for p in repo.problems if p.severity == "error")


def _item_changes(repo: Repository, git: Repo, point: str) -> list[PlannedItem]:
    before = {f: git.show(point, f) for f in git.files_at(point, items.QUEUE) if _is_item_file(f)}
    now = {
        repo.rel(p): p.read_bytes()
        for p in definition_files(repo.root, items.QUEUE)
        if _is_item_file(p.name)
    }
    out: list[PlannedItem] = []
    for rel in sorted(set(before) | set(now)):
        old, new = before.get(rel), now.get(rel)
        if old == new:
            continue
        if new is None:
            out.append(_removed(rel, old or b""))
            continue
        change = "added" if old is None else "changed"
        out.append(_planned(repo, rel, change))
    return out


def _is_item_file(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def _removed(rel: str, data: bytes) -> PlannedItem:
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raw = None
    raw = raw if isinstance(raw, dict) else {}
    kind = str(raw.get("kind", "?"))
    target = (
        str(raw.get("workflow"))
        if kind == "workflow"
        else f"{raw.get('model')}.{raw.get('method')}"
    )
    note = f"its run {raw['run']} is cancelled" if raw.get("run") else ""
    return PlannedItem(
        "removed",
        rel,
        str(raw.get("id", "?")),
        kind,
        target,
        dict(raw.get("inputs") or {}),
        str(raw.get("requestedBy", "")),
        note,
    )


def _planned(repo: Repository, rel: str, change: str) -> PlannedItem:
    path = repo.root / rel
    problems = [p.message if p.file == rel else str(p) for p in item_problems(repo, path)]
    item = items.read_item(path)
    if item is None:
        return PlannedItem(change, rel, "?", "?", "?", {}, problems=problems or ["not an item"])
    planned = PlannedItem(
        change,
        rel,
        item.id,
        item.kind,
        item.target,
        item.inputs,
        item.request.requested_by or "",
        item.request.note or "",
        {
            k: str(item.request.fields[k])
            for k in ("notBefore", "notAfter", "window")
            if k in item.request.fields
        },
        problems,
    )
    planned.stale = items.stale_files(repo, item)
    if problems:
        return planned
    release = item.staged_release
    released_job = release.get("job") if release is not None else None
    try:
        wf = target_workflow(repo, item.kind, item.target, item.inputs)
    except SwampError as e:
        planned.problems.append(str(e))
        return planned
    inputs = apply_defaults(item.inputs, wf.inputs)
    _render_workflow(repo, wf, inputs, "", planned, 0)
    if released_job is not None and change == "changed":
        planned.releases = [(j, p) for j, p in planned.holds if j == released_job] or [
            (str(released_job), "(no such hold in the workflow)")
        ]
    planned.mermaid = graph.mermaid(wf)
    return planned


def _render_workflow(
    repo: Repository,
    wf: Workflow,
    inputs: Mapping[str, Any],
    prefix: str,
    planned: PlannedItem,
    depth: int,
) -> None:
    context = {"inputs": dict(inputs), "secrets": _masked_secrets(repo)}
    for job in wf.jobs.values():
        name = f"{prefix}{job.name}"
        if job.hold:
            planned.holds.append((name, _shown(render_partial(job.hold, context))))
        groups: list[tuple[str, tuple[Step, ...]]] = [("precheck", job.prechecks)]
        if job.checks:
            groups.append(("check", job.checks.steps))
        groups.append(("step", job.steps))
        for kind, steps in groups:
            for step in steps:
                _render_step(repo, job, step, kind, name, context, planned, depth)


def _render_step(
    repo: Repository,
    job: Job,
    step: Step,
    kind: str,
    job_name: str,
    context: dict[str, Any],
    planned: PlannedItem,
    depth: int,
) -> None:
    step_inputs = render_partial(dict(step.inputs), context)
    note = _for_each_note(job, context) if kind == "step" else ""
    if step.workflow:
        planned.steps.append(
            PlannedStep(job_name, step.name, kind, f"workflow {step.workflow}", step_inputs, note)
        )
        nested = repo.workflows.get(step.workflow)
        if nested is not None and depth < MAX_DEPTH:
            nested_inputs = apply_defaults(step_inputs, nested.inputs)
            _render_workflow(
                repo, nested, nested_inputs, f"{job_name}/{step.name}/", planned, depth + 1
            )
        return
    if step.task is not None:
        task = step.task
        planned.steps.append(
            PlannedStep(
                job_name,
                step.name,
                kind,
                f"{task.type} {task.summary}".rstrip(),
                _dialect_arguments(dict(task.arguments), context["inputs"]),
                note,
            )
        )
        return
    model = repo.models.get(step.model or "")
    method = model.methods.get(step.method or "") if model else None
    if model is None or method is None:
        planned.steps.append(
            PlannedStep(job_name, step.name, kind, f"{step.model}.{step.method}", {}, note)
        )
        return
    # start-up time: loaded only on this path
    from swamp.types import registry

    shell_fields = registry.get_type(model.type).methods[method.call].shell_fields
    # An input known only during the run stays out, so the argument using it
    # shows the expression (not the quoted text of another expression).
    known = {k: v for k, v in step_inputs.items() if not known_during_run(v)}
    method_inputs = apply_defaults(known, method.inputs)
    method_context = {"inputs": method_inputs, "secrets": context["secrets"]}
    arguments = {
        k: render_partial(v, method_context, shell=k in shell_fields)
        for k, v in method.arguments.items()
    }
    planned.steps.append(
        PlannedStep(
            job_name, step.name, kind, f"{model.name}.{method.name}", arguments, note, step_inputs
        )
    )


def _dialect_arguments(value: Any, inputs: Mapping[str, Any], key: str = "") -> Any:
    """A Mender task with its `${workflow.input.X}` filled in; references to
    the environment and to earlier tasks are known only during the run."""
    # start-up time: loaded only on this path
    from swamp.mender import substitute as ms

    if isinstance(value, str):
        scope = ms.Scope(inputs, {}, {})
        out = value
        for ref in ms.find(value):
            if ref.kind == "input":
                out = out.replace(ref.text, ms.resolve(ref, scope), 1)
        return out
    if isinstance(value, Mapping):
        return {k: _dialect_arguments(v, inputs, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_dialect_arguments(v, inputs, key) for v in value]
    return value


def known_during_run(value: Any) -> bool:
    """True when `value` holds an expression only the run can evaluate."""
    return any(expressions.has_expression(s) for _, s in expressions.walk_strings(value))


def _for_each_note(job: Job, context: dict[str, Any]) -> str:
    if not job.for_each:
        return ""
    values = render_partial(job.for_each.items, context)
    shown = values if isinstance(values, str) else ", ".join(_shown(v) for v in values)
    return (
        f"for each of {shown} ({job.for_each.concurrency} at a time, "
        f"{job.for_each.tolerated_failures} failures tolerated)"
    )


def flow(value: Any) -> str:
    """A value on one line, as JSON."""
    return json.dumps(value, default=str)


def _shown(value: Any) -> str:
    """A value for a reader: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else flow(value)


def _masked_secrets(repo: Repository) -> dict[str, str]:
    return dict.fromkeys(sorted(repo.config.secrets), secrets.MASK)


def render_partial(value: Any, context: Mapping[str, Any], *, shell: bool = False) -> Any:
    """Like expressions.render, but an expression that can only be evaluated
    during the run (step outputs, item, env) is kept as written."""
    return expressions.map_strings(value, lambda s: _partial_string(s, context, shell=shell))


def _partial_string(value: str, context: Mapping[str, Any], *, shell: bool) -> Any:
    if not expressions.has_expression(value):
        return value
    try:
        return _render_string(value, context, shell=shell)
    except expressions.ExpressionError:
        pass
    out: list[str] = []
    pos = 0
    for m in expressions.EXPRESSION.finditer(value):
        out.append(value[pos : m.start()])
        try:
            rendered = _render_string(m.group(0), context, shell=shell)
            out.append(rendered if isinstance(rendered, str) else str(rendered))
        except expressions.ExpressionError:
            out.append(m.group(0))
        pos = m.end()
    out.append(value[pos:])
    return "".join(out)


def _render_string(value: str, context: Mapping[str, Any], *, shell: bool) -> Any:
    """A shell script is shown with each value quoted for where it stands."""
    if shell:
        return shell_script.display_script(value, context)
    return expressions.render_string(value, context)


def _definition_changes(repo: Repository, git: Repo, point: str) -> list[DefinitionChange]:
    before: dict[str, bytes | None] = {}
    for folder in DEFINITION_FOLDERS:
        for f in git.files_at(point, folder):
            # Only what definition_files reads (never .gitkeep or a README).
            if Path(f).suffix in DEFINITION_SUFFIXES:
                before[f] = git.show(point, f)
    before[CONFIG_FILE] = git.show(point, CONFIG_FILE)
    now: dict[str, bytes | None] = {}
    for folder in DEFINITION_FOLDERS:
        for p in definition_files(repo.root, folder):
            now[repo.rel(p)] = p.read_bytes()
    config = repo.root / CONFIG_FILE
    now[CONFIG_FILE] = config.read_bytes() if config.is_file() else None
    queued = [i for i in items.iter_items(repo.root) if isinstance(i, items.Item)]
    out = []
    for rel in sorted(set(before) | set(now)):
        old, new = before.get(rel), now.get(rel)
        if old == new:
            continue
        change = "added" if old is None else "deleted" if new is None else "modified"
        affects: list[str] = []
        stale: list[str] = []
        if rel != CONFIG_FILE:
            for item in queued:
                if rel not in item.request.pin and rel not in _current_files(repo, item):
                    continue
                # With pins of the parsed content, an edit of comments or
                # formatting leaves the item runnable; any other edit stales it.
                listed = stale if rel in items.stale_files(repo, item) else affects
                listed.append(f"{item.id} ({item.target})")
        out.append(DefinitionChange(rel, change, affects, stale))
    return out


def _current_files(repo: Repository, item: items.Item) -> list[str]:
    try:
        return list(items.pin(repo, item.kind, item.target))
    except SwampError:
        return []
