"""Schema and semantic validation of a repository's files.

Never stops at the first problem: every problem becomes one Problem at the
offending node, and valid parts are still built so later checks can run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from swamp import expressions, schemas, shell_script
from swamp.definitions import (
    Config,
    Job,
    Model,
    Step,
    Workflow,
    build_model,
    build_workflow,
)
from swamp.errors import Problem, SwampError
from swamp.loader import Document, JsonPath, format_path
from swamp.mender import dialect as mender
from swamp.repo import CONFIG_FILE, Repository, definition_files
from swamp.types import registry

MODEL_NAMESPACES = ("inputs", "env", "secrets")


class _Broken(set[str]):
    """Definitions with problems (already reported), as "model:NAME" and
    "workflow:NAME": a reference to one is not reported again as unknown, and
    what can be checked still is."""

    def __init__(self) -> None:
        super().__init__()
        # The valid methods of a model with problems, and the names of the others.
        self.models: dict[str, tuple[Model, frozenset[str]]] = {}


def load_definitions(repo: Repository) -> None:
    from swamp.repo import symlinked

    _load_config(repo)
    # Content behind a link was never reviewed in the repository; results
    # written through one would land outside it.
    for rel in symlinked(repo.root, ("models", "workflows", "runs")):
        repo.problems.append(Problem(rel, 1, 1, "is a symbolic link; swamp never follows one"))
    broken = _Broken()
    _load_models(repo, broken)
    partial = _load_workflows(repo, broken)
    for wf in repo.workflows.values():
        _check_workflow(repo, repo.docs[wf.file], wf, broken)
    # Workflows with schema problems: the parts that are valid are still
    # checked, so one run reports every problem.
    for wf, unchecked in partial:
        _check_workflow(repo, repo.docs[wf.file], wf, broken, unchecked)
    _check_nesting(repo)


def _schema_errors(doc: Document, kind: str) -> tuple[list[Problem], list[_Where]]:
    """Schema problems, and where each error is (to prune what it spoils)."""
    problems: list[Problem] = []
    where: list[_Where] = []
    for err in schemas.validator(kind).iter_errors(doc.data):
        problems += schemas.describe(doc, err, base=())
        path = tuple(err.absolute_path)
        if err.validator == "propertyNames" and isinstance(err.instance, str):
            path = (*path, err.instance)  # the offending name itself
        where.append(path)
    return problems, where


_Where = tuple[str | int, ...]


def _load_config(repo: Repository) -> None:
    path = repo.root / CONFIG_FILE
    doc = repo.load_doc(path)
    if doc is None:
        return
    if doc.data is None:
        doc.data = {}
    problems = _mapping_problems(doc)
    if problems:
        repo.problems += problems
        return
    problems, where = _schema_errors(doc, "swamp")
    # Drop only what is wrong; what is left still serves the other checks
    # (the env and secrets names above all).
    data = dict(doc.data)
    for at in where:
        top = str(at[0]) if at else ""
        if len(at) >= 2 and top in ("windows", "defaults") and isinstance(data.get(top), dict):
            data[top] = {k: v for k, v in data[top].items() if k != at[1]}
        elif top:
            data.pop(top, None)
    for name, w in (data.get("windows") or {}).items():
        problems += _window_problems(doc, name, w)
    repo.problems += problems
    repo.config = Config.from_data(data)


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


def _load_models(repo: Repository, broken: _Broken) -> None:
    for path in definition_files(repo.root, "models"):
        doc = repo.load_doc(path)
        if doc is None:
            continue
        problems = _mapping_problems(doc)
        where: list[_Where] = []
        if not problems:
            problems, where = _schema_errors(doc, "model")
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
        checkable = _prune_model(data, where) if data else None
        whole = checkable is None
        if checkable is not None:
            found, whole = _model_semantics(repo, doc, calls, checkable)
            problems += found
        repo.problems += problems
        if problems:
            if isinstance(name, str):
                broken.add(f"model:{name}")
                if checkable is not None and not whole:
                    good = {k: v for k, v in checkable["methods"].items() if k in calls}
                    model = build_model(
                        {**checkable, "methods": good}, doc.path, repo.digests[doc.path], calls
                    )
                    broken.models[name] = (model, frozenset(data["methods"]) - frozenset(good))
            continue
        repo.models[str(name)] = build_model(data, doc.path, repo.digests[doc.path], calls)


def _prune_model(data: dict[str, Any], where: list[_Where]) -> dict[str, Any] | None:
    """The model without its methods that have schema errors, or None when
    an error spoils the whole model (its type, inputs or shared arguments)."""
    bad: set[str] = set()
    for path in where:
        if len(path) >= 2 and path[0] == "methods":
            bad.add(str(path[1]))
        elif path[:1] not in (("description",), ("name",)):
            return None
    methods = {k: v for k, v in data["methods"].items() if k not in bad}
    return {**data, "methods": methods}


def _model_semantics(
    repo: Repository, doc: Document, calls: dict[str, str], data: dict[str, Any]
) -> tuple[list[Problem], bool]:
    """The model's problems, and whether they spoil the whole model; `calls`
    receives each method without problems and the type method it calls."""
    if not registry.has_type(data["type"]):
        message = (
            f"type: unknown model type {data['type']!r} "
            f"(known: {', '.join(registry.known_types())})"
        )
        return [doc.problem(("type",), message)], True
    try:
        mtype = registry.get_type(data["type"])
    except SwampError as e:  # a plugin that fails to load
        return [doc.problem(("type",), f"type: {e}")], True
    out = _schema_shape(doc, ("inputs",), data.get("inputs"))
    if schemas.check_schema(data.get("inputs") or {}):
        return out, True  # an unknown keyword is ignored; an invalid schema is unusable
    base_args = data.get("arguments") or {}
    for mname, method in data["methods"].items():
        before = len(out)
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
        out += _schema_shape(doc, (*mpath, "inputs"), method.get("inputs"))
        if schemas.check_schema(method.get("inputs") or {}):
            continue
        from swamp.definitions import input_schema

        declared = input_schema(data.get("inputs"), method.get("inputs"))
        merged = {**base_args, **(method.get("arguments") or {})}

        def origin(key: str, mpath: JsonPath = mpath, method: Any = method) -> JsonPath:
            return (
                (*mpath, "arguments") if key in (method.get("arguments") or {}) else ("arguments",)
            )

        out += _argument_problems(doc, mpath, merged, mtype.methods[call].arguments, origin)
        for key in mtype.methods[call].shell_fields:
            script = merged.get(key)
            if isinstance(script, str):
                at = (*origin(key), key)
                out += [
                    doc.problem(at, f"{format_path(at)}: {reason}", within=(script, offset))
                    for offset, reason in shell_script.static_problems(script)
                ]
        for key, value in merged.items():
            out += expression_problems(
                doc, (*origin(key), key), value, repo.config, MODEL_NAMESPACES, declared
            )
        if len(out) == before:
            calls[mname] = call
    return out, False


def _schema_shape(doc: Document, path: JsonPath, schema: Any) -> list[Problem]:
    """A user-written input schema: valid JSON Schema, with no unknown keyword."""
    if schema is None:
        return []
    out = schemas.schema_shape_problems(doc, path, schema)
    for rel, key in schemas.unknown_keywords(schema):
        at = (*path, *rel)
        out.append(
            doc.problem(
                at,
                f"{format_path(at[:-1])}: unknown JSON Schema keyword {key!r}",
                key=True,
            )
        )
    return out


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


def _load_workflows(
    repo: Repository, broken: _Broken
) -> list[tuple[Workflow, frozenset[JsonPath]]]:
    """Register the valid workflows; return the checkable part of the others
    with the paths of the steps that cannot be checked."""
    partial = []
    mender_docs: list[Document] = []
    for path in definition_files(repo.root, "workflows"):
        doc = repo.load_doc(path)
        if doc is None:
            continue
        if mender.is_mender(doc):  # the Mender dialect: loaded after, highest version wins
            mender_docs.append(doc)
            continue
        problems = _mapping_problems(doc)
        where: list[_Where] = []
        if not problems:
            problems, where = _schema_errors(doc, "workflow")
        data = doc.data if isinstance(doc.data, dict) else {}
        name = data.get("name")
        if isinstance(name, str) and name in repo.workflows:
            problems.append(
                doc.problem(
                    ("name",),
                    f"name: workflow {name!r} is already defined in {repo.workflows[name].file}",
                )
            )
        if data and not where:
            problems += _schema_shape(doc, ("inputs",), data.get("inputs"))
        repo.problems += problems
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
    data: dict[str, Any], where: list[_Where]
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


def _check_workflow(
    repo: Repository,
    doc: Document,
    wf: Workflow,
    broken: _Broken,
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
    broken: _Broken,
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
    out += _cycle_problems(
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
    repo: Repository, doc: Document, wf: Workflow, job: Job, step: Step, broken: _Broken
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
                    f"{where}.workflow: unknown workflow {step.workflow!r}{_known(repo.workflows)}",
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
                        f"{where}.model: unknown model {step.model!r}{_known(repo.models)}",
                    )
                )
        elif step.method in model.methods:
            schema = model.methods[step.method].inputs
        elif step.method not in bad_methods:
            out.append(
                doc.problem(
                    (*step.path, "method"),
                    f"{where}.method: model {model.name!r} has no method {step.method!r}"
                    f"{_known([*model.methods, *bad_methods])}",
                )
            )
    if schema is not None:
        out += input_problems(doc, (*step.path, "inputs"), dict(step.inputs), schema)
    return out + _input_expressions(repo, doc, wf, job, step)


def _check_inline(
    repo: Repository, doc: Document, wf: Workflow, job: Job, step: Step
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
    repo: Repository, doc: Document, wf: Workflow, job: Job, step: Step
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
        for source, offset in expressions.find(text):
            within = (text, offset)
            try:
                refs = expressions.references(source)
            except expressions.ExpressionError as e:
                out.append(doc.problem(spath, f"{where}: {e}", within=within))
                continue
            for ref in refs:
                msg = _reference_problem(ref.parts, config, namespaces, declared, job, jobs)
                if msg:
                    text_ = f"{where}: ${{{{{source}}}}}: {msg}"
                    out.append(doc.problem(spath, text_, within=within))
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
            return f"{root}.{name} is not allowed (list {name} under {root} in swamp.yaml)"
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
                            key=True,
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

    problems = [*repo.problems, *repo.warnings]
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
