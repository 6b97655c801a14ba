"""models/: each model's type, methods, input schemas, arguments and scripts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swamp import expressions, schemas, shell_script
from swamp.definitions import (
    build_model,
    input_schema,
)
from swamp.errors import Problem, SwampError
from swamp.loader import Document, JsonPath, format_path
from swamp.repo import Contents, definition_files
from swamp.types import registry
from swamp.validate.common import (
    MODEL_NAMESPACES,
    Broken,
    Where,
    dumps,
    first_checks,
    holds_expression,
    load_doc,
    schema_shape,
)
from swamp.validate.references import expression_problems


def load_models(repo: Contents, broken: Broken) -> None:
    for path in definition_files(repo.root, "models"):
        doc = load_doc(repo, path)
        if doc is None:
            continue
        data, name, problems, where = first_checks(doc, "model", repo.models)
        calls: dict[str, str] = {}
        checkable = _prune_model(data, where) if data else None
        whole = checkable is None
        if checkable is not None:
            found, whole = _model_semantics(repo, doc, calls, checkable)
            problems += found
        repo.problems.extend(problems)
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


def _prune_model(data: dict[str, Any], where: list[Where]) -> dict[str, Any] | None:
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
    repo: Contents, doc: Document, calls: dict[str, str], data: dict[str, Any]
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
    out = schema_shape(doc, ("inputs",), data.get("inputs"))
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
        out += schema_shape(doc, (*mpath, "inputs"), method.get("inputs"))
        if schemas.check_schema(method.get("inputs") or {}):
            continue
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
    v = schemas.validator_for_schema(dumps(schema))
    for err in v.iter_errors(dict(merged)):
        rel = tuple(err.absolute_path)
        if rel and holds_expression(merged.get(str(rel[0]))):
            continue
        if isinstance(err.instance, str) and expressions.has_expression(err.instance):
            continue
        base = origin(str(rel[0])) if rel else (*mpath, "arguments")
        for p in schemas.describe(doc, err, base=base, what="argument"):
            out.append(p)
    return out
