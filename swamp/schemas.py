"""The JSON Schemas in `schemas/` and turning their errors into Problems.

The schemas are data, kept apart from this code: a wheel carries them as
`swamp/schemas/`, a source checkout reads the top-level `schemas/` folder.
"""

from __future__ import annotations

import hashlib
import json
import re
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
    "mender-workflow": "mender-workflow.schema.json",
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
    # start-up time: jsonschema loads only when used
    from jsonschema import Draft202012Validator

    cls: Any = Draft202012Validator
    v: Validator = cls(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return v


def schema_problems(doc: Document, kind: str) -> list[Problem]:
    """Every schema violation in `doc`, one Problem each, at the node."""
    return [p for err in validator(kind).iter_errors(doc.data) for p in describe(doc, err, base=())]


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
    exclusive = _exclusive_keys(err, what or "key")
    if exclusive:
        path = (*base, *tuple(err.absolute_path))
        label = format_path(path)
        return [doc.problem(path, f"{label}: {exclusive}" if label else exclusive)]
    schema: Any = err.schema
    if (
        err.validator == "anyOf"
        and isinstance(schema, dict)
        and str(schema.get("description", "")).startswith("A duration")
    ):
        path = (*base, *tuple(err.absolute_path))
        return [
            doc.problem(
                path,
                f"{format_path(path)}: {_brief(err.instance)} is not a duration: expected a "
                "number of seconds, or a string such as 500ms, 30s, 5m, 2h, 1h30m or 2d "
                "(no spaces)",
            )
        ]
    if err.validator in ("anyOf", "oneOf") and err.context:
        # start-up time: jsonschema loads only when used
        from jsonschema.exceptions import best_match

        # For a list of alternatives, say what the closest one expected, but
        # at the place of the original error.
        best = best_match(err.context)
        if best.validator not in ("type", "anyOf", "oneOf") or len(best.path) > 0:
            rel = tuple(err.absolute_path) + tuple(best.path)
            return _one(doc, base, rel, best, what)
    return _one(doc, base, tuple(err.absolute_path), err, what)


def _exclusive_keys(err: ValidationError, noun: str) -> str | None:
    """Say plainly what `oneOf: [{required: [a]}, {required: [b]}]` (one of
    a or b) and `not: {anyOf: [{required: [a, b]}, …]}` (not a with b) mean."""
    value: Any = err.validator_value
    instance: Any = err.instance
    if not isinstance(instance, dict):
        return None
    alternatives = value.get("anyOf") if isinstance(value, dict) else value
    if not isinstance(alternatives, list) or not all(
        isinstance(a, dict) and list(a) == ["required"] for a in alternatives
    ):
        return None
    names = list(dict.fromkeys(n for a in alternatives for n in a["required"]))
    given = [n for n in names if n in instance]
    if err.validator == "not" or (err.validator == "oneOf" and len(given) > 1):
        return f"give only one of the {noun}s {_or(given)}, not {_all(given)}"
    if err.validator in ("oneOf", "anyOf") and not given:
        return f"missing required {noun}: one of {_or(names)}"
    return None


def _all(names: list[str]) -> str:
    return "both" if len(names) == 2 else "all of them"


def _or(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


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
        schema: Any = err.schema
        # `$schema` is for editors; the hint lists the keys that mean something.
        allowed = sorted(k for k in (schema.get("properties") or {}) if not k.startswith("$"))
        patterns = list((schema.get("patternProperties") or {}).keys())
        known = set(schema.get("properties") or {})
        extras = [
            k for k in err.instance if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return [
            doc.problem((*path, k), f"{where}unknown {noun} {k!r}{hint}", key=True) for k in extras
        ]
    if kind == "required" and isinstance(value, list) and isinstance(err.instance, dict):
        missing = [k for k in value if k not in err.instance]
        # jsonschema reports each missing key as an error of its own.
        named = [k for k in missing if err.message.startswith(f"{k!r} is a required")]
        missing = named or missing
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
    if kind == "pattern" and rel[-1:] == ("type",) and isinstance(err.instance, str):
        # start-up time: loaded only on this path
        from swamp.types.registry import known_types

        near = [k for k in known_types() if k.split("/")[-1] == err.instance.lower()]
        if near:
            return [
                doc.problem(
                    path,
                    f"{where}{_brief(err.instance)} is not a model type; did you mean {near[0]}?",
                )
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
    return [p.message for p in schema_shape_problems(Document("", schema), (), schema)]


def schema_shape_problems(doc: Document, base: JsonPath, schema: Any) -> list[Problem]:
    """Problems of a user-written JSON Schema found at `base` in `doc`, each at
    its node, against the JSON Schema meta-schema."""
    errors = remembered_errors("meta-schema", _meta_validator(), schema)
    return [p for err in errors for p in describe(doc, err, base, "keyword")]


def remembered_errors(check: str, v: Validator, value: Any) -> list[ValidationError]:
    """`v`'s errors for `value`; none, without a look, for a value that passed
    the same `check` before in this process (known by its JSON text)."""
    text = _plain_json(value)
    key = None if text is None else hashlib.sha256(f"{check}\n{text}".encode()).digest()
    if key is not None and key in _PASSED:
        return []
    errors = list(v.iter_errors(value))
    if not errors and key is not None:
        if len(_PASSED) >= _MAX_PASSED:
            _PASSED.clear()
        _PASSED.add(key)
    return errors


@cache
def _meta_validator() -> Validator:
    # start-up time: jsonschema loads only when used
    from jsonschema import Draft202012Validator

    cls: Any = Draft202012Validator
    meta: Validator = cls(cls.META_SCHEMA)
    return meta


# What passed a check (a definition its file schema, a user's schema the
# meta-schema), by the digest of the check and the value's JSON text:
# checking is much dearer than writing the value out, and a process that
# loads repositories again and again (`swamp serve`, the test suite) meets the
# same few files. Only what passed is kept: problems are described afresh, at
# their node. Digests, not texts: a few hundred kilobytes at most.
_MAX_PASSED = 4096
_PASSED: set[bytes] = set()


def _plain_json(value: Any) -> str | None:
    """`value` as canonical JSON text, or None if it is not plain JSON data
    (a key that is not a string, a tuple, a date): then the text could stand
    for another value, and the check is not reused."""

    def plain(v: Any) -> bool:
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        if isinstance(v, list):
            return all(plain(x) for x in v)
        return v is None or isinstance(v, str | int | float)  # bool is an int

    if not plain(value):
        return None
    return json.dumps(value, sort_keys=True)


# The keywords of JSON Schema draft 2020-12 (and `definitions`, still common).
KEYWORDS = frozenset(
    """
    $id $schema $ref $anchor $dynamicRef $dynamicAnchor $vocabulary $comment $defs definitions
    prefixItems items contains additionalProperties properties patternProperties
    dependentSchemas propertyNames if then else allOf anyOf oneOf not
    unevaluatedItems unevaluatedProperties
    type const enum multipleOf maximum exclusiveMaximum minimum exclusiveMinimum
    maxLength minLength pattern maxItems minItems uniqueItems maxContains minContains
    maxProperties minProperties required dependentRequired
    title description default deprecated readOnly writeOnly examples format
    contentEncoding contentMediaType contentSchema
    """.split()  # noqa: SIM905 - a list of words reads better than 60 quoted strings
)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("prefixItems", "allOf", "anyOf", "oneOf")
_SCHEMA_ONE = (
    "items",
    "contains",
    "additionalProperties",
    "propertyNames",
    "if",
    "then",
    "else",
    "not",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)


def unknown_keywords(schema: Any, path: JsonPath = ()) -> list[tuple[JsonPath, str]]:
    """Keys of a user-written schema that JSON Schema does not know, such as
    `requried` or `patern`: JSON Schema ignores them, so a typo would silently
    accept anything. Keys starting with `x-` are extensions and allowed."""
    if not isinstance(schema, dict):
        return []
    found = [((*path, k), k) for k in schema if k not in KEYWORDS and not str(k).startswith("x-")]
    for k, v in schema.items():
        if k in _SCHEMA_MAPS and isinstance(v, dict):
            for name, sub in v.items():
                found += unknown_keywords(sub, (*path, k, name))
        elif k in _SCHEMA_LISTS and isinstance(v, list):
            for i, sub in enumerate(v):
                found += unknown_keywords(sub, (*path, k, i))
        elif k in _SCHEMA_ONE:
            found += unknown_keywords(v, (*path, k))
    return found
