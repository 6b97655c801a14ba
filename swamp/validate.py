"""Schema and semantic validation of a repository's files.

Never stops at the first problem: every problem becomes one Problem at the
offending node, and valid parts are still built so later checks can run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from swamp import expressions, schemas
from swamp.definitions import Config, Job, Step, Workflow, build_model, build_workflow
from swamp.errors import Problem
from swamp.loader import Document, JsonPath, format_path
from swamp.repo import CONFIG_FILE, Repository, definition_files
from swamp.types import registry

MODEL_NAMESPACES = ("inputs", "env", "secrets")


def load_definitions(repo: Repository) -> None:
    _load_config(repo)
    broken: set[str] = set()
    _load_models(repo, broken)
    _load_workflows(repo, broken)
    for wf in repo.workflows.values():
        _check_workflow(repo, repo.docs[wf.file], wf, broken)
    _check_nesting(repo)


def _load_config(repo: Repository) -> None:
    path = repo.root / CONFIG_FILE
    doc = repo.load_doc(path)
    if doc is None:
        return
    if doc.data is None:
        doc.data = {}
    problems = _mapping_problems(doc) or schemas.schema_problems(doc, "swamp")
    for name, w in (doc.data.get("windows") or {}).items() if not problems else ():
        problems += _window_problems(doc, name, w)
    repo.problems += problems
    if not problems:
        repo.config = Config.from_data(doc.data)


def _window_problems(doc: Document, name: str, w: Mapping[str, Any]) -> list[Problem]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    out = []
    if not croniter.is_valid(w["cron"]) or len(w["cron"].split()) != 5:
        out.append(
            doc.problem(
                ("windows", name, "cron"),
                f"windows.{name}.cron: {w['cron']!r} is not a five-field cron expression",
            )
        )
    tz = w.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(
            doc.problem(
                ("windows", name, "timezone"), f"windows.{name}.timezone: unknown time zone {tz!r}"
            )
        )
    return out


def _mapping_problems(doc: Document) -> list[Problem]:
    if not isinstance(doc.data, dict):
        return [doc.problem((), f"expected a mapping at the top, got {_kind(doc.data)}")]
    return []


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _load_models(repo: Repository, broken: set[str]) -> None:
    for path in definition_files(repo.root, "models"):
        doc = repo.load_doc(path)
        if doc is None:
            continue
        problems = _mapping_problems(doc) or schemas.schema_problems(doc, "model")
        data = doc.data if isinstance(doc.data, dict) else {}
        name = data.get("name")
        if isinstance(name, str) and name in repo.models:
            problems.append(
                doc.problem(
                    ("name",),
                    f"name: model {name!r} is already defined in {repo.models[name].file}",
                )
            )
        calls: dict[str, str] = {}
        if not problems:
            problems += _model_semantics(repo, doc, calls)
        repo.problems += problems
        if problems:
            if isinstance(name, str):
                broken.add(f"model:{name}")
            continue
        repo.models[str(name)] = build_model(data, doc.path, repo.digests[doc.path], calls)


def _model_semantics(repo: Repository, doc: Document, calls: dict[str, str]) -> list[Problem]:
    data = doc.data
    out: list[Problem] = []
    if not registry.has_type(data["type"]):
        out.append(
            doc.problem(
                ("type",),
                f"type: unknown model type {data['type']!r} "
                f"(known: {', '.join(registry.known_types())})",
            )
        )
        return out
    mtype = registry.get_type(data["type"])
    out += _schema_shape(doc, ("inputs",), data.get("inputs"))
    base_args = data.get("arguments") or {}
    for mname, method in data["methods"].items():
        mpath: JsonPath = ("methods", mname)
        call = method.get("call")
        if call is None:
            if mname in mtype.methods:
                call = mname
            elif len(mtype.methods) == 1:
                call = next(iter(mtype.methods))
            else:
                out.append(
                    doc.problem(
                        mpath,
                        f"methods.{mname}: type {mtype.name} has several methods "
                        f"({', '.join(mtype.methods)}); say which with `call:`",
                    )
                )
                continue
        elif call not in mtype.methods:
            out.append(
                doc.problem(
                    (*mpath, "call"),
                    f"methods.{mname}.call: type {mtype.name} has no method {call!r} "
                    f"(expected one of: {', '.join(mtype.methods)})",
                )
            )
            continue
        calls[mname] = call
        out += _schema_shape(doc, (*mpath, "inputs"), method.get("inputs"))
        from swamp.definitions import input_schema

        declared = input_schema(data.get("inputs"), method.get("inputs"))
        merged = {**base_args, **(method.get("arguments") or {})}

        def origin(key: str, mpath: JsonPath = mpath, method: Any = method) -> JsonPath:
            return (
                (*mpath, "arguments") if key in (method.get("arguments") or {}) else ("arguments",)
            )

        out += _argument_problems(doc, mpath, merged, mtype.methods[call].arguments, origin)
        for key, value in merged.items():
            out += expression_problems(
                doc, (*origin(key), key), value, repo.config, MODEL_NAMESPACES, declared
            )
    return out


def _schema_shape(doc: Document, path: JsonPath, schema: Any) -> list[Problem]:
    if schema is None:
        return []
    return [
        doc.problem(path, f"{format_path(path)}: not a valid JSON Schema: {m}")
        for m in schemas.check_schema(schema)
    ]


def _argument_problems(
    doc: Document,
    mpath: JsonPath,
    merged: Mapping[str, Any],
    schema: Mapping[str, Any],
    origin: Any,
) -> list[Problem]:
    """Arguments against the type's schema; values still holding expressions
    are checked after rendering, at run time."""
    out = []
    v = schemas.validator_for_schema(_dumps(schema))
    for err in v.iter_errors(dict(merged)):
        rel = tuple(err.absolute_path)
        if rel and _holds_expression(merged.get(str(rel[0]))):
            continue
        if isinstance(err.instance, str) and expressions.has_expression(err.instance):
            continue
        base = origin(str(rel[0])) if rel else (*mpath, "arguments")
        for p in schemas.describe(doc, err, base=base, what="argument"):
            out.append(p)
    return out


def _holds_expression(value: Any) -> bool:
    return any(expressions.has_expression(s) for _, s in expressions.walk_strings(value))


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _load_workflows(repo: Repository, broken: set[str]) -> None:
    for path in definition_files(repo.root, "workflows"):
        doc = repo.load_doc(path)
        if doc is None:
            continue
        problems = _mapping_problems(doc) or schemas.schema_problems(doc, "workflow")
        data = doc.data if isinstance(doc.data, dict) else {}
        name = data.get("name")
        if isinstance(name, str) and name in repo.workflows:
            problems.append(
                doc.problem(
                    ("name",),
                    f"name: workflow {name!r} is already defined in {repo.workflows[name].file}",
                )
            )
        if not problems:
            problems += _schema_shape(doc, ("inputs",), data.get("inputs"))
        repo.problems += problems
        if problems:
            if isinstance(name, str):
                broken.add(f"workflow:{name}")
            continue
        repo.workflows[str(name)] = build_workflow(data, doc.path, repo.digests[doc.path])


def _check_workflow(repo: Repository, doc: Document, wf: Workflow, broken: set[str]) -> None:
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
    out += _cycle_problems(
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
            out += _check_steps(repo, doc, wf, job, label, steps, broken)
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
    repo.problems += out


def _namespaces(job: Job) -> tuple[str, ...]:
    base = ("inputs", "steps", "jobs", "env", "secrets")
    return (*base, "item") if job.for_each else base


def _check_steps(
    repo: Repository,
    doc: Document,
    wf: Workflow,
    job: Job,
    label: str,
    steps: tuple[Step, ...],
    broken: set[str],
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
    out += _cycle_problems(
        doc,
        {s.name: [d.name for d in s.depends_on if d.name in names] for s in steps},
        lambda n: names[n].path,
        "step",
    )
    for step in steps:
        out += _check_target(repo, doc, wf, job, step, broken)
    return out


def _check_target(
    repo: Repository, doc: Document, wf: Workflow, job: Job, step: Step, broken: set[str]
) -> list[Problem]:
    where = format_path(step.path)
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
                    f"{where}.workflow: unknown workflow {step.workflow!r}{_known(repo.workflows)}",
                )
            )
    else:
        assert step.model is not None and step.method is not None
        model = repo.models.get(step.model)
        if model is None:
            if f"model:{step.model}" not in broken:
                out.append(
                    doc.problem(
                        (*step.path, "model"),
                        f"{where}.model: unknown model {step.model!r}{_known(repo.models)}",
                    )
                )
        elif step.method not in model.methods:
            out.append(
                doc.problem(
                    (*step.path, "method"),
                    f"{where}.method: model {model.name!r} has no method {step.method!r}"
                    f"{_known(model.methods)}",
                )
            )
        else:
            schema = model.methods[step.method].inputs
    if schema is not None:
        out += input_problems(doc, (*step.path, "inputs"), dict(step.inputs), schema)
    out += expression_problems(
        doc,
        (*step.path, "inputs"),
        dict(step.inputs),
        repo.config,
        _namespaces(job),
        wf.inputs,
        job=job,
        jobs=wf.jobs,
    )
    return out


def _known(names: Iterable[str]) -> str:
    names = sorted(names)
    return f" (known: {', '.join(names)})" if names else ""


def input_problems(
    doc: Document, path: JsonPath, given: Mapping[str, Any], schema: Mapping[str, Any]
) -> list[Problem]:
    """Given inputs against a declared input schema; values holding
    expressions are checked when rendered."""
    out = []
    v = schemas.validator_for_schema(_dumps(schema))
    for err in v.iter_errors(dict(given)):
        rel = tuple(err.absolute_path)
        if rel and _holds_expression(given.get(str(rel[0]))):
            continue
        out += schemas.describe(doc, err, base=path, what="input")
    return out


def expression_problems(
    doc: Document,
    path: JsonPath,
    value: Any,
    config: Config,
    namespaces: tuple[str, ...],
    declared: Mapping[str, Any] | None,
    *,
    job: Job | None = None,
    jobs: Mapping[str, Job] | None = None,
) -> list[Problem]:
    """Syntax and references of every expression in `value`."""
    out: list[Problem] = []
    for rel, text in expressions.walk_strings(value):
        spath = (*path, *rel)
        where = format_path(spath)
        for source, _ in expressions.find(text):
            try:
                refs = expressions.references(source)
            except expressions.ExpressionError as e:
                out.append(doc.problem(spath, f"{where}: {e}"))
                continue
            for ref in refs:
                msg = _reference_problem(ref.parts, config, namespaces, declared, job, jobs)
                if msg:
                    out.append(doc.problem(spath, f"{where}: {msg} in ${{{{{source}}}}}"))
    return out


def _reference_problem(
    parts: tuple[str, ...],
    config: Config,
    namespaces: tuple[str, ...],
    declared: Mapping[str, Any] | None,
    job: Job | None,
    jobs: Mapping[str, Job] | None,
) -> str | None:
    root = parts[0]
    if root not in namespaces:
        if root in expressions.NAMESPACES:
            return f"{root!r} cannot be used here (expected one of: {', '.join(namespaces)})"
        return f"unknown name {root!r} (expected one of: {', '.join(namespaces)})"
    name = parts[1] if len(parts) > 1 else None
    if root in ("env", "secrets") and name is not None:
        allowed = config.env if root == "env" else config.secrets
        if name not in allowed:
            return f"{root}.{name} is not allowed; list {name} under {root} in swamp.yaml"
    if root == "inputs" and name is not None and declared is not None:
        props = declared.get("properties") or {}
        if name not in props and declared.get("additionalProperties") is False:
            return f"inputs.{name} is not a declared input{_known(props)}"
    if root == "steps" and name is not None and job is not None:
        known = {s.name for s in (*job.steps, *job.prechecks)}
        if name not in known:
            return f"steps.{name} is not a step of job {job.name!r}"
    if root == "jobs" and name is not None and jobs is not None:
        if name not in jobs:
            return f"jobs.{name} is not a job of this workflow"
        if (
            len(parts) > 3
            and parts[2] == "steps"
            and parts[3] not in {s.name for s in jobs[name].steps}
        ):
            return f"jobs.{name}.steps.{parts[3]} is not a step of job {name!r}"
    return None


def _cycle_problems(
    doc: Document, graph: Mapping[str, list[str]], where: Any, noun: str
) -> list[Problem]:
    """One problem per dependency cycle, at its first member."""
    out = []
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    path = where(cycle[0])
                    out.append(
                        doc.problem(
                            path,
                            f"{format_path(path)}: dependency cycle between {noun}s: "
                            + " -> ".join([*cycle, cycle[0]]),
                        )
                    )
            elif state.get(nxt) is None:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for n in graph:
        if n not in state:
            visit(n, [])
    return out


def _check_nesting(repo: Repository) -> None:
    """Workflows calling workflows must not loop back, nor nest deeper than
    the engine runs them (reported in the workflow that starts the chain)."""
    from swamp.engine.runner import MAX_DEPTH

    edges: dict[str, list[tuple[str, Step]]] = {}
    for wf in repo.workflows.values():
        for job in wf.jobs.values():
            for step in (*job.steps, *job.prechecks, *(job.checks.steps if job.checks else ())):
                if step.workflow in repo.workflows:
                    edges.setdefault(wf.name, []).append((step.workflow, step))
    reported: set[frozenset[str]] = set()

    def visit(name: str, stack: list[str]) -> None:
        for target, step in edges.get(name, []):
            if target in stack:
                cycle = [*stack[stack.index(target) :], target]
                if frozenset(cycle) in reported:
                    continue
                reported.add(frozenset(cycle))
                wf = repo.workflows[name]
                doc = repo.docs[wf.file]
                spath = (*step.path, "workflow")
                repo.problems.append(
                    doc.problem(
                        spath,
                        f"{format_path(spath)}: workflows call each other in a cycle: "
                        + " -> ".join(cycle),
                    )
                )
            elif len(stack) > MAX_DEPTH:
                chain = [*stack, target]
                if frozenset(chain) in reported:
                    continue
                reported.add(frozenset(chain))
                wf = repo.workflows[chain[0]]
                doc = repo.docs[wf.file]
                first = next(s for t, s in edges[chain[0]] if t == chain[1])
                spath = (*first.path, "workflow")
                repo.problems.append(
                    doc.problem(
                        spath,
                        f"{format_path(spath)}: workflows nested {len(chain) - 1} deep "
                        f"(at most {MAX_DEPTH}): " + " -> ".join(chain),
                    )
                )
            else:
                visit(target, [*stack, target])

    for name in sorted(edges):
        visit(name, [name])


def validate_paths(repo: Repository, paths: list[Path]) -> list[Problem]:
    """Problems in the given files or folders (all of them when none given)."""
    from swamp.queue_files import item_problems

    problems = list(repo.problems)
    queue_files: list[Path] = []
    for folder in ("queue", "done"):
        queue_files += definition_files(repo.root, folder)
    for path in queue_files:
        problems += item_problems(repo, path)
    if paths:
        wanted = [repo.rel(p).rstrip("/") for p in paths]
        problems = [
            p for p in problems if any(p.file == w or p.file.startswith(w + "/") for w in wanted)
        ]
    return sorted(set(problems))
