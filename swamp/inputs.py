"""Inputs from the command line: `--input k=v`, `--input k:json=…`, `--input-file F`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swamp import schemas
from swamp.errors import SwampError, UsageError
from swamp.loader import LoadError, load_file


def parse_inputs(pairs: list[str], files: list[Path] | None = None) -> dict[str, Any]:
    """`k=v` gives the string v; `k:json=v` parses v as JSON (numbers, lists…).
    Files (YAML or JSON mappings) come first; --input values override them."""
    out: dict[str, Any] = {}
    for f in files or []:
        try:
            doc = load_file(f)
        except LoadError as e:
            raise SwampError(str(e.problem)) from None
        if not isinstance(doc.data, dict):
            raise SwampError(f"{f}: expected a mapping of input names to values")
        out.update(doc.data)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--input {pair!r}: expected NAME=VALUE (or NAME:json=JSON)")
        if key.endswith(":json"):
            key = key[: -len(":json")]
            try:
                out[key] = json.loads(value, parse_constant=_no_constant)
            except ValueError as e:
                if not isinstance(e, json.JSONDecodeError):
                    raise UsageError(f"--input {key}:json: {e}") from None
                raise UsageError(f"--input {key}:json: invalid JSON: {e.msg}") from None
        else:
            out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def check_inputs(inputs: Mapping[str, Any], schema: Mapping[str, Any], target: str) -> None:
    """Refuse inputs that do not match the declared schema, naming each problem."""
    problems = schemas.messages(dict(inputs), dict(schema), "input")
    if problems:
        raise SwampError(f"{target}: " + "; ".join(p + _typed_hint(p, inputs) for p in problems))


def _typed_hint(problem: str, inputs: Mapping[str, Any]) -> str:
    """`--input n=3` gives the string "3": say how to give the number."""
    key = problem.partition(":")[0]
    if (
        isinstance(inputs.get(key), str)
        and problem.startswith(f"{key}: expected ")
        and problem.endswith(", got string")
    ):
        return f" (give a typed value as --input {key}:json=VALUE)"
    return ""


def apply_defaults(inputs: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs with each missing property's JSON Schema `default` filled in."""
    out = dict(inputs)
    for name, prop in (schema.get("properties") or {}).items():
        if name not in out and isinstance(prop, dict) and "default" in prop:
            out[name] = prop["default"]
    return out
