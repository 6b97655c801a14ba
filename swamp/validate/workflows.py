"""workflows/: jobs, steps, their targets and inputs (valid parts checked even in a broken file)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swamp import expressions, schemas
from swamp.definitions import (
    Job,
    Step,
    Workflow,
    build_workflow,
)
from swamp.errors import Problem
from swamp.loader import Document, JsonPath, format_path
from swamp.mender import dialect as mender
from swamp.repo import Contents, definition_files
from swamp.types import registry
from swamp.validate.common import (
    Broken,
    Where,
    first_checks,
    known_hint,
    load_doc,
    schema_shape,
)
from swamp.validate.nesting import cycle_problems
from swamp.validate.references import expression_problems, input_problems


def load_workflows(repo: Contents, broken: Broken) -> list[tuple[Workflow, frozenset[JsonPath]]]:
    """Register the valid workflows; return the checkable part of the others
    with the paths of the steps that cannot be checked."""
    partial = []
    mender_docs: list[Document] = []
    for path in definition_files(repo.root, "workflows"):
        doc = load_doc(repo, path)
        if doc is None:
            continue
        if mender.is_mender(doc):  # the Mender dialect: loaded after, highest version wins
            mender_docs.append(doc)
            continue
        data, name, problems, where = first_checks(doc, "workflow", repo.workflows)
        if data and not where:
            problems += schema_shape(doc, ("inputs",), data.get("inputs"))
        repo.problems.extend(problems)
        if problems:
            if isinstance(name, str):
                broken.add(f"workflow:{name}")
            pruned = _prune_workflow(data, where) if data else None
            if pruned is not None and not schemas.check_schema(data.get("inputs") or {}):
                raw, unchecked = pruned
                partial.append((build_workflow(raw, doc.path, repo.digests[doc.path]), unchecked))
            continue
        repo.workflows[str(name)] = build_workflow(data, doc.path, repo.digests[doc.path])
    mender.load(repo, mender_docs, broken)
    return partial


def _prune_workflow(
    data: dict[str, Any], where: list[Where]
) -> tuple[dict[str, Any], frozenset[JsonPath]] | None:
    """The workflow with each job or step that has a schema error replaced by
    a placeholder that keeps its name (so references to it still resolve) and
    is not checked further; None when an error spoils the whole workflow."""
    bad_jobs: set[str] = set()
    bad_steps: set[tuple[str | int, ...]] = set()
    for path in where:
        if path[:1] in (("description",), ("name",)):
            continue
        if len(path) < 2 or path[0] != "jobs":
            return None
        in_job = str(path[1])
        if len(path) >= 4 and path[2] in ("steps", "prechecks"):
            bad_steps.add((in_job, path[2], path[3]))
        elif len(path) >= 5 and path[2:4] == ("checks", "steps"):
            bad_steps.add((in_job, "checks", path[4]))
        else:
            bad_jobs.add(in_job)
    jobs: dict[str, Any] = {}
    unchecked: set[JsonPath] = set()

    def swap(steps: Any, key: tuple[str, str], base: JsonPath) -> list[Any]:
        out = []
        for i, raw in enumerate(_list(steps)):
            if (*key, i) in bad_steps or key[0] in bad_jobs:
                out.append(_placeholder(raw, i))
                unchecked.add((*base, i))
            else:
                out.append(raw)
        return out

    for name, raw in data["jobs"].items():
        if name in bad_jobs or not isinstance(raw, dict):
            # Only the names of its steps are kept, for references to them.
            steps = raw.get("steps") if isinstance(raw, dict) else None
            jobs[name] = {"steps": swap(steps, (name, "steps"), ("jobs", name, "steps"))}
            continue
        job = dict(raw)
        for group in ("steps", "prechecks"):
            if group in job:
                job[group] = swap(job[group], (name, group), ("jobs", name, group))
        if "checks" in job:
            checks = job["checks"]
            job["checks"] = {
                **checks,
                "steps": swap(checks["steps"], (name, "checks"), ("jobs", name, "checks", "steps")),
            }
        jobs[name] = job
    return {**data, "jobs": jobs}, frozenset(unchecked)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _placeholder(raw: Any, index: int) -> dict[str, Any]:
    """A step that only keeps the name of a step that cannot be checked."""
    name = raw.get("name") if isinstance(raw, dict) else None
    return {"name": name if isinstance(name, str) else f"#{index}", "dependsOn": []}


def check_workflow(
    repo: Contents,
    doc: Document,
    wf: Workflow,
    broken: Broken,
    unchecked: frozenset[JsonPath] = frozenset(),
) -> None:
    out: list[Problem] = []
    jobs = wf.jobs
    for job in jobs.values():
        for i, dep in enumerate(job.depends_on):
            if dep.name not in jobs:
                out.append(
                    doc.problem(
                        (*job.path, "dependsOn", i),
                        f"{format_path((*job.path, 'dependsOn', i))}: unknown job {dep.name!r} "
                        f"(jobs: {', '.join(jobs)})",
                    )
                )
    out += cycle_problems(
        doc,
        {j.name: [d.name for d in j.depends_on if d.name in jobs] for j in jobs.values()},
        lambda n: jobs[n].path,
        "job",
    )
    for job in jobs.values():
        groups = [("steps", job.steps), ("prechecks", job.prechecks)]
        if job.checks:
            groups.append(("checks", job.checks.steps))
        for label, steps in groups:
            out += _check_steps(repo, doc, wf, job, label, steps, broken, unchecked)
        if job.hold:
            out += expression_problems(
                doc,
                (*job.path, "hold"),
                job.hold,
                repo.config,
                _namespaces(job),
                wf.inputs,
                job=job,
                jobs=jobs,
            )
        if job.for_each and isinstance(job.for_each.items, str):
            fpath = (*job.path, "forEach", "items")
            if not expressions.EXPRESSION.fullmatch(job.for_each.items):
                out.append(
                    doc.problem(
                        fpath,
                        f"{format_path(fpath)}: expected a list or one ${{{{ … }}}} expression",
                    )
                )
            else:
                out += expression_problems(
                    doc,
                    fpath,
                    job.for_each.items,
                    repo.config,
                    ("inputs", "env", "jobs"),
                    wf.inputs,
                    jobs=jobs,
                )
    repo.problems.extend(out)


def _namespaces(job: Job) -> tuple[str, ...]:
    base = ("inputs", "steps", "jobs", "env", "secrets")
    return (*base, "item") if job.for_each else base


def _check_steps(
    repo: Contents,
    doc: Document,
    wf: Workflow,
    job: Job,
    label: str,
    steps: tuple[Step, ...],
    broken: Broken,
    unchecked: frozenset[JsonPath] = frozenset(),
) -> list[Problem]:
    out: list[Problem] = []
    names: dict[str, Step] = {}
    for step in steps:
        if step.name in names:
            out.append(
                doc.problem(
                    (*step.path, "name"),
                    f"{format_path((*step.path, 'name'))}: step {step.name!r} is already "
                    f"defined in job {job.name!r}",
                )
            )
        names[step.name] = step
    explicit = {id(s) for s in steps}
    for step in steps:
        for i, dep in enumerate(step.depends_on):
            if dep.name not in names and id(step) in explicit:
                dpath = (*step.path, "dependsOn", i)
                out.append(
                    doc.problem(
                        dpath,
                        f"{format_path(dpath)}: unknown step {dep.name!r} in job {job.name!r} "
                        f"(steps: {', '.join(names)})",
                    )
                )
    out += cycle_problems(
        doc,
        {s.name: [d.name for d in s.depends_on if d.name in names] for s in steps},
        lambda n: names[n].path,
        "step",
    )
    for step in steps:
        if step.path not in unchecked:
            out += _check_target(repo, doc, wf, job, step, broken)
    return out


def _check_target(
    repo: Contents, doc: Document, wf: Workflow, job: Job, step: Step, broken: Broken
) -> list[Problem]:
    where = format_path(step.path)
    if step.task is not None:
        return _check_inline(repo, doc, wf, job, step)
    if step.workflow and step.model:
        return [doc.problem(step.path, f"{where}: give either model and method, or workflow")]
    if not step.workflow and not step.model:
        return [doc.problem(step.path, f"{where}: missing the task: model and method, or workflow")]
    out: list[Problem] = []
    schema: Mapping[str, Any] | None = None
    if step.workflow:
        if step.workflow in repo.workflows:
            schema = repo.workflows[step.workflow].inputs
        elif f"workflow:{step.workflow}" not in broken:
            out.append(
                doc.problem(
                    (*step.path, "workflow"),
                    f"{where}.workflow: unknown workflow {step.workflow!r}"
                    f"{known_hint(repo.workflows)}",
                )
            )
    else:
        assert step.model is not None and step.method is not None
        model = repo.models.get(step.model)
        bad_methods: frozenset[str] = frozenset()
        if model is None and step.model in broken.models:
            model, bad_methods = broken.models[step.model]
        if model is None:
            if f"model:{step.model}" not in broken:
                out.append(
                    doc.problem(
                        (*step.path, "model"),
                        f"{where}.model: unknown model {step.model!r}{known_hint(repo.models)}",
                    )
                )
        elif step.method in model.methods:
            schema = model.methods[step.method].inputs
        elif step.method not in bad_methods:
            out.append(
                doc.problem(
                    (*step.path, "method"),
                    f"{where}.method: model {model.name!r} has no method {step.method!r}"
                    f"{known_hint([*model.methods, *bad_methods])}",
                )
            )
    if schema is not None:
        out += input_problems(doc, (*step.path, "inputs"), dict(step.inputs), schema)
    return out + _input_expressions(repo, doc, wf, job, step)


def _check_inline(
    repo: Contents, doc: Document, wf: Workflow, job: Job, step: Step
) -> list[Problem]:
    """An inline task's type and the expressions of its inputs; its literal
    arguments belong to the dialect that made it, which checked them."""
    assert step.task is not None
    where = format_path(step.path)
    if not registry.has_task_type(step.task.type):
        return [doc.problem(step.path, f"{where}: unknown task type {step.task.type!r}")]
    if step.task.method not in registry.get_type(step.task.type).methods:
        return [
            doc.problem(step.path, f"{where}: type {step.task.type} has no {step.task.method!r}")
        ]
    return _input_expressions(repo, doc, wf, job, step)


def _input_expressions(
    repo: Contents, doc: Document, wf: Workflow, job: Job, step: Step
) -> list[Problem]:
    """Syntax and references of the expressions in a step's inputs."""
    return expression_problems(
        doc,
        (*step.path, "inputs"),
        dict(step.inputs),
        repo.config,
        _namespaces(job),
        wf.inputs,
        job=job,
        jobs=wf.jobs,
    )
