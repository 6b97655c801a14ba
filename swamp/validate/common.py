"""What the validators of each kind of file share: schema errors, pruning marks, hints."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from swamp import expressions, schemas
from swamp.definitions import Model, Workflow
from swamp.errors import Problem
from swamp.loader import Document, JsonPath, LoadError, format_path, load_file
from swamp.repo import Contents, digest_bytes, parsed_digest

MODEL_NAMESPACES = ("inputs", "env", "secrets")


def load_doc(repo: Contents, path: Path) -> Document | None:
    """Load one file into `repo`, recording its digest; a load error becomes a problem."""
    rel = repo.rel(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        repo.problems.append(Problem(rel, 1, 1, f"cannot read file: {e.strerror}"))
        return None
    repo.digests[rel] = digest_bytes(raw)
    try:
        doc = load_file(path, rel)
    except LoadError as e:
        repo.problems.append(e.problem)
        return None
    # A pin is the digest of what was loaded, not of its spelling: a comment
    # or a reformatting does not make queued items stale.
    repo.digests[rel] = parsed_digest(doc.data)
    repo.docs[rel] = doc
    return doc


class Broken(set[str]):
    """Definitions with problems (already reported), as "model:NAME" and
    "workflow:NAME": a reference to one is not reported again as unknown, and
    what can be checked still is."""

    def __init__(self) -> None:
        super().__init__()
        # The valid methods of a model with problems, and the names of the others.
        self.models: dict[str, tuple[Model, frozenset[str]]] = {}


def first_checks(
    doc: Document, kind: str, defined: Mapping[str, Model | Workflow]
) -> tuple[dict[str, Any], Any, list[Problem], list[Where]]:
    """What every model or workflow file is checked for first: a mapping
    (empty if it is not one), its schema, and a name not defined already.
    (data, its name, problems, where the schema errors are, to prune.)"""
    problems = mapping_problems(doc)
    where: list[Where] = []
    if not problems:
        problems, where = schema_errors(doc, kind)
    data = doc.data if isinstance(doc.data, dict) else {}
    name = data.get("name")
    if isinstance(name, str) and name in defined:
        problems.append(
            doc.problem(
                ("name",),
                f"name: {kind} {name!r} is already defined in {defined[name].file}",
            )
        )
    return data, name, problems, where


def schema_errors(doc: Document, kind: str) -> tuple[list[Problem], list[Where]]:
    """Schema problems, and where each error is (to prune what it spoils)."""
    problems: list[Problem] = []
    where: list[Where] = []
    for err in schemas.remembered_errors(kind, schemas.validator(kind), doc.data):
        problems += schemas.describe(doc, err, base=())
        path = tuple(err.absolute_path)
        if err.validator == "propertyNames" and isinstance(err.instance, str):
            path = (*path, err.instance)  # the offending name itself
        where.append(path)
    return problems, where


Where = tuple[str | int, ...]


def mapping_problems(doc: Document) -> list[Problem]:
    if not isinstance(doc.data, dict):
        return [doc.problem((), f"expected a mapping at the top, got {kind(doc.data)}")]
    return []


def kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def schema_shape(doc: Document, path: JsonPath, schema: Any) -> list[Problem]:
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


def holds_expression(value: Any) -> bool:
    return any(expressions.has_expression(s) for _, s in expressions.walk_strings(value))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def known_hint(names: Iterable[str]) -> str:
    names = sorted(names)
    return f" (known: {', '.join(names)})" if names else ""
