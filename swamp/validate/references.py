"""Expressions and given inputs: syntax, names that exist, values that fit a schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swamp import expressions, schemas
from swamp.definitions import (
    Config,
    Job,
)
from swamp.errors import Problem
from swamp.loader import Document, JsonPath, format_path
from swamp.validate.common import (
    dumps,
    holds_expression,
    known_hint,
)


def input_problems(
    doc: Document, path: JsonPath, given: Mapping[str, Any], schema: Mapping[str, Any]
) -> list[Problem]:
    """Given inputs against a declared input schema; values holding
    expressions are checked when rendered."""
    out = []
    v = schemas.validator_for_schema(dumps(schema))
    for err in v.iter_errors(dict(given)):
        rel = tuple(err.absolute_path)
        if rel and holds_expression(given.get(str(rel[0]))):
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
            return f"inputs.{name} is not a declared input{known_hint(props)}"
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
