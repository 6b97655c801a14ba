"""The JSON Schemas in `schemas/` and turning their errors into Problems.

The schemas are data, kept apart from this code: a wheel carries them as
`swamp/schemas/`, a source checkout reads the top-level `schemas/` folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swamp.errors import Problem
from swamp.loader import Document, JsonPath, format_path

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_FILES = {
    "swamp": "swamp.schema.json",
    "model": "model.schema.json",
    "workflow": "workflow.schema.json",
    "queue-item": "queue-item.schema.json",
}


def schema_dir() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "schemas"
    if installed.is_dir():
        return installed
    return here.parent / "schemas"  # editable install / source checkout


@cache
def load_schema(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((schema_dir() / SCHEMA_FILES[kind]).read_text("utf-8"))
    return data


@cache
def validator(kind: str) -> Validator:
    return validator_for_schema(json.dumps(load_schema(kind)))


@cache
def validator_for_schema(schema_json: str) -> Validator:
    """A validator for an arbitrary (already checked) schema, cached by text."""
    from jsonschema import Draft202012Validator

    cls: Any = Draft202012Validator
    v: Validator = cls(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return v


def schema_problems(doc: Document, kind: str) -> list[Problem]:
    """Every schema violation in `doc`, one Problem each, at the node."""
    return [p for err in validator(kind).iter_errors(doc.data) for p in describe(doc, err, base=())]


def instance_problems(
    doc: Document, base: JsonPath, instance: Any, schema: dict[str, Any], what: str
) -> list[Problem]:
    """Problems of `instance` (found at `base` in `doc`) against `schema`.

    Used for inputs against a declared input schema and for arguments against
    a model type's argument schema; `what` names the thing ("input", "argument").
    """
    v = validator_for_schema(json.dumps(schema, sort_keys=True))
    return [p for err in v.iter_errors(instance) for p in describe(doc, err, base, what)]


_MAX_BY_IDENTITY = 4096
_by_identity: dict[int, tuple[Mapping[str, Any], Validator]] = {}


def _validator_of(schema: Mapping[str, Any]) -> Validator:
    """The validator of a schema object, found by identity first: the engine
    checks every step's inputs and arguments against the same few schema
    objects, and serialising one to find its validator cost more than the
    check itself."""
    hit = _by_identity.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    v = validator_for_schema(json.dumps(schema, sort_keys=True))
    if len(_by_identity) >= _MAX_BY_IDENTITY:
        _by_identity.clear()
    _by_identity[id(schema)] = (schema, v)  # holding `schema` keeps its id unique
    return v


def messages(instance: Any, schema: Mapping[str, Any], what: str) -> list[str]:
    """Plain messages (no file) for `instance` against `schema`."""
    errors = list(_validator_of(schema).iter_errors(instance))
    if not errors:
        return []
    doc = Document("", instance)
    return [p.message for err in errors for p in describe(doc, err, (), what)]


def describe(doc: Document, err: ValidationError, base: JsonPath, what: str = "") -> list[Problem]:
    """One clear Problem (or one per offending key) for a validation error."""
    if err.validator in ("anyOf", "oneOf") and err.context:
        from jsonschema.exceptions import best_match

        # For a list of alternatives, say what the closest one expected, but
        # at the place of the original error.
        best = best_match(err.context)
        if best.validator not in ("type", "anyOf", "oneOf") or len(best.path) > 0:
            rel = tuple(err.absolute_path) + tuple(best.path)
            return _one(doc, base, rel, best, what)
    return _one(doc, base, tuple(err.absolute_path), err, what)


def _one(
    doc: Document, base: JsonPath, rel: JsonPath, err: ValidationError, what: str
) -> list[Problem]:
    path = (*base, *rel)
    label = format_path(path)
    where = f"{label}: " if label else ""
    noun = what or "key"
    kind = err.validator
    value: Any = err.validator_value
    if kind == "additionalProperties" and isinstance(err.instance, dict):
        import re

        schema: Any = err.schema
        allowed = sorted((schema.get("properties") or {}).keys())
        patterns = list((schema.get("patternProperties") or {}).keys())
        extras = [
            k
            for k in err.instance
            if k not in allowed and not any(re.search(p, k) for p in patterns)
        ]
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return [
            doc.problem((*path, k), f"{where}unknown {noun} {k!r}{hint}", key=True) for k in extras
        ]
    if kind == "required" and isinstance(value, list) and isinstance(err.instance, dict):
        missing = [k for k in value if k not in err.instance]
        return [doc.problem(path, f"{where}missing required {noun} {k!r}") for k in missing]
    if kind == "propertyNames":
        return [doc.problem(path, f"{where}{_short(err.message)}", key=True)]
    if kind == "type":
        expected = " or ".join(value) if isinstance(value, list) else str(value)
        return [doc.problem(path, f"{where}expected {expected}, got {_typename(err.instance)}")]
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in value)
        return [doc.problem(path, f"{where}expected one of {options}, got {_brief(err.instance)}")]
    if kind == "const":
        return [
            doc.problem(path, f"{where}expected {json.dumps(value)}, got {_brief(err.instance)}")
        ]
    if kind == "pattern":
        return [
            doc.problem(path, f"{where}{_brief(err.instance)} does not match the pattern {value}")
        ]
    if kind == "dependentRequired" and isinstance(value, dict) and isinstance(err.instance, dict):
        for k, needs in value.items():
            missing = [n for n in needs if k in err.instance and n not in err.instance]
            if missing:
                return [doc.problem(path, f"{where}{k!r} needs {missing[0]!r} too")]
    return [doc.problem(path, f"{where}{_short(err.message)}")]


def _typename(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _brief(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _short(message: str) -> str:
    line = message.splitlines()[0] if message else "invalid"
    return line if len(line) <= 200 else line[:197] + "..."


def check_schema(schema: Any) -> list[str]:
    """Messages for a user-written JSON Schema that is itself invalid."""
    from jsonschema import Draft202012Validator

    cls: Any = Draft202012Validator
    meta = cls(cls.META_SCHEMA)
    return [
        f"{format_path(tuple(e.absolute_path)) or 'schema'}: {_short(e.message)}"
        for e in meta.iter_errors(schema)
    ]
