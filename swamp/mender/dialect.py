"""Mender workflow files: recognise them, validate them, pick the highest
version of each name, and translate the winner into a swamp `Workflow`.

The translation is one job (`tasks`) with one step per task, each step
depending on the one before it, with `retries` as its retry. Each step is an
inline task of type `mender/http` or `mender/cli` whose arguments are the
task as written; its inputs hand the type, at execution time, the run's
inputs, the results of earlier steps and the environment swamp.yaml allows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from swamp import schemas
from swamp.definitions import Config, Dependency, InlineTask, Job, Retry, Step, Workflow
from swamp.errors import Problem
from swamp.expressions import walk_strings
from swamp.loader import Document, JsonPath, format_path
from swamp.mender import substitute
from swamp.repo import Contents

JOB = "tasks"
TASK_TYPES = ("http", "cli", "nats", "smtp")
BODIES = ("formdata", "json", "body")  # the first present is sent, as in Mender
STEP_INPUTS = {
    "inputs": "${{ inputs }}",
    "steps": "${{ steps }}",
    "env": "${{ env }}",
    "secrets": "${{ secrets }}",
}


def is_mender(doc: Document) -> bool:
    """A file with `tasks` and no `jobs` at its top: Mender's JSON form, or the
    YAML form Mender's worker also loads (model/workflow.go)."""
    data = doc.data
    return (
        doc.path.endswith((".json", ".yaml", ".yml"))
        and isinstance(data, dict)
        and "tasks" in data
        and "jobs" not in data
    )


@dataclass
class _File:
    doc: Document
    name: str | None
    version: int
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def load(repo: Contents, docs: list[Document], broken: set[str]) -> None:
    """Validate every Mender file; register the highest version of each name."""
    files = [_check(doc, repo.config) for doc in docs]
    by_name: dict[str, list[_File]] = {}
    for f in files:
        if f.name is not None:
            by_name.setdefault(f.name, []).append(f)
    winners: dict[str, _File] = {}
    for name, group in by_name.items():
        top = max(f.version for f in group)
        best = [f for f in group if f.version == top]
        for f in best if len(best) > 1 else ():
            where = ("version",) if "version" in f.doc.data else ("name",)
            others = ", ".join(o.doc.path for o in best if o is not f)
            f.errors.append(
                f.doc.problem(
                    where,
                    f"{where[0]}: workflow {name!r} has version {top} in {others} too; "
                    "the highest version runs, so give them different versions",
                )
            )
        if name in repo.workflows:
            best[0].errors.append(
                best[0].doc.problem(
                    ("name",),
                    f"name: workflow {name!r} is already defined in {repo.workflows[name].file}",
                )
            )
        winners[name] = best[0]
    for f in files:
        repo.problems.extend(f.errors)
        repo.warnings.extend(f.warnings)
    for name, winner in winners.items():
        if winner.errors:
            broken.add(f"workflow:{name}")
            continue
        doc = winner.doc
        repo.workflows[name] = translate(doc.data, doc.path, repo.digests[doc.path])


def translate(data: Mapping[str, Any], file: str, digest: str) -> Workflow:
    """A valid Mender workflow as a swamp workflow."""
    steps = []
    previous: str | None = None
    for i, task in enumerate(data["tasks"]):
        retries = task.get("retries", 0)
        steps.append(
            Step(
                name=task["name"],
                model=None,
                method=None,
                workflow=None,
                inputs=STEP_INPUTS,
                depends_on=(Dependency(previous),) if previous else (),
                timeout=None,
                retry=(
                    Retry(retries + 1, float(task.get("retryDelaySeconds", 0)), 1.0)
                    if retries
                    else None
                ),
                allow_failure=False,
                description="",
                path=("tasks", i),
                task=InlineTask(f"mender/{task['type']}", "run", {"task": task}, _summary(task)),
            )
        )
        previous = task["name"]
    job = Job(JOB, "", (), None, None, (), None, tuple(steps), ("tasks",))
    return Workflow(
        name=data["name"],
        description=data.get("description", ""),
        inputs=input_schema(data),
        jobs={JOB: job},
        file=file,
        digest=digest,
        dialect="mender",
    )


def input_schema(data: Mapping[str, Any]) -> dict[str, Any]:
    """inputParameters are required, optionalParameters may be given; others
    are accepted and ignored, as Mender does (the run notes them)."""
    required = list(data.get("inputParameters") or [])
    optional = [n for n in data.get("optionalParameters") or [] if n not in required]
    properties: dict[str, Any] = {n: {"description": "inputParameters"} for n in required}
    properties.update({n: {"description": "optionalParameters"} for n in optional})
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def _summary(task: Mapping[str, Any]) -> str:
    block = task[task["type"]]
    match task["type"]:
        case "http":
            text = f"{block.get('method', 'GET')} {block['uri']}"
        case "cli":
            text = " ".join(block["command"])
        case "nats":
            text = f"publish on {block.get('subject', '')}"
        case _:
            text = f"mail to {', '.join(block.get('to') or [])}: {block.get('subject', '')}"
    return text if len(text) <= 100 else text[:99] + "…"


# -- validation ------------------------------------------------------------------


def _check(doc: Document, config: Config) -> _File:
    data = doc.data
    name = data.get("name") if isinstance(data.get("name"), str) else None
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        version = 0
    f = _File(doc, name, version)
    _schema(f)
    _semantics(f, config)
    return f


def _warning(doc: Document, path: JsonPath, message: str, *, key: bool = False) -> Problem:
    return dataclasses.replace(doc.problem(path, message, key=key), severity="warning")


def _schema(f: _File) -> None:
    """Schema errors; keys Mender would ignore are warnings."""
    doc = f.doc
    for err in schemas.validator("mender-workflow").iter_errors(doc.data):
        if err.validator != "additionalProperties" or not isinstance(err.instance, dict):
            f.errors += schemas.describe(doc, err, base=())
            continue
        path = tuple(err.absolute_path)
        where = f"{format_path(path)}: " if path else ""
        schema: Any = err.schema
        allowed = sorted(schema.get("properties") or {})
        for key in err.instance:
            if key in allowed:
                continue
            if key == "requires" and path[-1:] == ("http",):
                message = (
                    f"{where}'requires' in the http block is ignored (by Mender too); "
                    "to skip the task, put requires on the task itself"
                )
            else:
                message = f"{where}unknown key {key!r} is ignored (expected one of: "
                message += ", ".join(allowed) + ")"
            f.warnings.append(_warning(doc, (*path, key), message, key=True))


def _semantics(f: _File, config: Config) -> None:
    doc, data = f.doc, f.doc.data
    declared: set[str] = set()
    for key in ("inputParameters", "optionalParameters"):
        if isinstance(data.get(key), list):
            declared.update(n for n in data[key] if isinstance(n, str))
    tasks = data["tasks"] if isinstance(data["tasks"], list) else []
    first: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if isinstance(task, dict) and isinstance(task.get("name"), str):
            first.setdefault(task["name"], i)
    for i, task in enumerate(tasks):
        if not isinstance(task, dict):
            continue
        tpath: JsonPath = ("tasks", i)
        where = format_path(tpath)
        name = task.get("name")
        if isinstance(name, str) and first[name] != i:
            f.errors.append(
                doc.problem(
                    (*tpath, "name"),
                    f"{where}.name: task {name!r} is already defined at tasks[{first[name]}]",
                )
            )
        kind = task.get("type")
        if kind not in TASK_TYPES:
            continue
        if kind not in task:
            f.errors.append(
                doc.problem(tpath, f"{where}: missing the {kind} block (the task's type is {kind})")
            )
        for other in TASK_TYPES:
            if other != kind and other in task:
                f.warnings.append(
                    _warning(
                        doc,
                        (*tpath, other),
                        f"{where}.{other}: ignored, the task's type is {kind}",
                        key=True,
                    )
                )
        if kind == "http" and isinstance(task.get("http"), dict):
            _http_warnings(f, tpath, task["http"])
        block = task.get(kind)
        if kind in ("http", "nats") and isinstance(block, dict):
            key = "json" if kind == "http" else "data"
            _whole_input_warnings(f, block.get(key), (*tpath, kind, key), declared)
        for spath, text, template in _substituted(task, kind, tpath):
            _references(f, config, spath, text, declared, first, i)
            if template and isinstance(text, str) and "{{" in text and "}}" in text:
                f.warnings.append(
                    _warning(
                        doc,
                        spath,
                        f"{format_path(spath)}: Go template actions ({{{{ … }}}}) are evaluated "
                        "by Mender here but not by swamp; the text is sent as written",
                    )
                )


def _http_warnings(f: _File, tpath: JsonPath, http: Mapping[str, Any]) -> None:
    given = [b for b in BODIES if http.get(b) if b != "json"]
    if http.get("json") is not None:  # an empty object is still a body
        given.insert(1 if "formdata" in given else 0, "json")
    if len(given) > 1:
        f.warnings.append(
            _warning(
                f.doc,
                (*tpath, "http"),
                f"{format_path((*tpath, 'http'))}: several bodies ({', '.join(given)}); "
                f"{given[0]} is sent, as in Mender",
            )
        )


def _whole_input_warnings(f: _File, value: Any, base: JsonPath, declared: set[str]) -> None:
    """Mender replaces a JSON string that starts with `${workflow.input.` and
    ends with `}` by the input named by everything between, or by null: say
    so where that is not a plain input name (a default, two references)."""
    prefix = "${" + substitute.INPUT_PREFIX
    for spath, text in walk_strings(value, base):
        if not (isinstance(text, str) and text.startswith(prefix) and text.endswith("}")):
            continue
        name = text[len(prefix) : -1]
        if name and name not in declared:
            f.warnings.append(
                _warning(
                    f.doc,
                    spath,
                    f"{format_path(spath)}: Mender sends null for {text}: a whole "
                    "${workflow.input.…} string becomes the input named by all the text "
                    f"up to the last '}}' ({name!r}), and there is none; swamp does the same",
                )
            )


def _substituted(
    task: Mapping[str, Any], kind: str, tpath: JsonPath
) -> Iterator[tuple[JsonPath, Any, bool]]:
    """Every string Mender substitutes in a task, with its path, and whether
    Mender also runs it as a Go template (body and formdata)."""
    requires = task.get("requires")
    for j, text in enumerate(requires if isinstance(requires, list) else []):
        yield (*tpath, "requires", j), text, False
    block = task.get(kind)
    if not isinstance(block, dict):
        return
    bpath = (*tpath, kind)
    if kind == "cli":
        command = block.get("command")
        for j, text in enumerate(command if isinstance(command, list) else []):
            yield (*bpath, "command", j), text, False
        return
    if kind == "nats":  # the subject is used as written, as in Mender
        yield from (
            (rel, text, False) for rel, text in walk_strings(block.get("data"), (*bpath, "data"))
        )
        return
    if kind == "smtp":
        for key in ("to", "cc", "bcc"):
            entries = block.get(key)
            for j, text in enumerate(entries if isinstance(entries, list) else []):
                yield (*bpath, key, j), text, False
        for key in ("from", "subject", "body", "html"):
            if key in block:
                yield (*bpath, key), block[key], False
        return
    yield (*bpath, "uri"), block.get("uri"), False
    headers = block.get("headers")
    for k, v in headers.items() if isinstance(headers, dict) else ():
        yield (*bpath, "headers", k), v, False
    formdata = block.get("formdata")
    for k, v in formdata.items() if isinstance(formdata, dict) else ():
        yield (*bpath, "formdata", k), k, True
        yield (*bpath, "formdata", k), v, True
    yield (*bpath, "body"), block.get("body"), True
    for rel, text in walk_strings(block.get("json"), (*bpath, "json")):
        yield rel, text, False


def _references(
    f: _File,
    config: Config,
    spath: JsonPath,
    text: Any,
    declared: set[str],
    first: Mapping[str, int],
    index: int,
) -> None:
    doc = f.doc
    where = format_path(spath)
    if not isinstance(text, str):
        return  # the schema reports it
    for ref in substitute.find(text):
        message = None
        if ref.problem:
            message = (
                f"{ref.problem} in {ref.text} "
                "(expected encoding=url;, encoding=html; or encoding=plain;)"
            )
        elif not ref.kind:
            f.warnings.append(
                _warning(
                    doc,
                    spath,
                    f"{where}: {ref.text} is not a Mender reference (workflow.input.NAME, "
                    "env.NAME or TASK.json.PATH); it becomes its default or nothing, as in Mender",
                )
            )
        elif ref.kind == "input" and ref.name not in declared:
            message = (
                f"{ref.text} reads input {ref.name!r}, which is not in inputParameters "
                "or optionalParameters"
            )
        elif ref.kind == "env" and ref.name not in config.env | config.secrets:
            message = (
                f"{ref.text} reads env.{ref.name}, which swamp.yaml does not allow; "
                f"list {ref.name} under env (or secrets) in swamp.yaml"
            )
        elif ref.kind == "task":
            if ref.name not in first:
                message = f"{ref.text} reads unknown task {ref.name!r}"
            elif first[ref.name] >= index:
                message = f"{ref.text} reads task {ref.name!r}, which does not run before this one"
            elif substitute.path_problem(ref.path):
                message = f"{ref.text} has {substitute.path_problem(ref.path)}"
        if message:
            f.errors.append(doc.problem(spath, f"{where}: {message}"))
