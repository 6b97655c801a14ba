"""Mender's `${…}` substitution, done when a task executes.

    ${NAME}   ${NAME|default}   ${encoding=url;NAME}   ${encoding=html;NAME|default}

NAME is `workflow.input.X` (an input), `env.X` (an environment variable) or
`TASK.json.PATH` (a value in the JSON an earlier task returned or printed;
PATH is dotted, with array indices as in `a.b.[0].c`). Options come before
the name, each ending in `;`. Anything else written as `${…}` (a shell's
`${HOME}`) is left as it is, as Mender leaves it.

Values are data: a substituted value is never substituted again.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

REFERENCE = re.compile(r"\$\{([^}|]+)(?:\|([^}]*))?\}")
INPUT_PREFIX = "workflow.input."
ENV_PREFIX = "env."
JSON_MARK = ".json."
ENCODINGS = ("plain", "url", "html")
_PATH_PART = re.compile(r"([^\[\]]*)((?:\[[0-9]+\])*)")
_INDEX = re.compile(r"\[([0-9]+)\]")
# Go's html.EscapeString, which Mender uses.
_HTML = str.maketrans({"&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;"})


@dataclass(frozen=True)
class Reference:
    """One `${…}` as written, taken apart."""

    text: str  # the whole ${…}
    kind: str  # "input", "env", "task", or "" for something Mender does not substitute
    name: str  # the input, the variable or the task
    path: str  # for a task: the JSON path
    default: str | None
    encoding: str | None  # set by an option
    problem: str | None  # an option swamp does not know


def find(text: str) -> Iterator[Reference]:
    """Every `${…}` in `text`."""
    for m in REFERENCE.finditer(text):
        yield _reference(m)


def _reference(m: re.Match[str]) -> Reference:
    *options, target = m.group(1).split(";")
    encoding = problem = None
    for option in options:
        key, _, value = option.partition("=")
        if key == "encoding" and value in ENCODINGS:
            encoding = value
        elif problem is None:
            problem = f"unknown option {option + ';'!r}"
    kind, name, path = "", target, ""
    if target.startswith(INPUT_PREFIX) and len(target) > len(INPUT_PREFIX):
        kind, name = "input", target[len(INPUT_PREFIX) :]
    elif target.startswith(ENV_PREFIX) and len(target) > len(ENV_PREFIX):
        kind, name = "env", target[len(ENV_PREFIX) :]
    elif JSON_MARK in target:
        kind = "task"
        name, _, path = target.partition(JSON_MARK)
    return Reference(m.group(0), kind, name, path, m.group(2), encoding, problem)


class Scope:
    """What substitution reads: inputs, allowed environment variables, and
    the raw output (HTTP response body or command output) of earlier tasks."""

    def __init__(
        self,
        inputs: Mapping[str, Any],
        env: Mapping[str, str],
        results: Mapping[str, str],
    ) -> None:
        self.inputs = inputs
        self.env = env
        self.results = results
        self._documents: dict[str, Any] = {}

    def document(self, task: str) -> Any:
        """An earlier task's output parsed as JSON (None if it is not JSON)."""
        if task not in self._documents:
            try:
                self._documents[task] = json.loads(self.results[task])
            except ValueError:
                self._documents[task] = None
        return self._documents[task]


def substitute(text: str, scope: Scope, *, input_encoding: str = "plain") -> str:
    """`text` with every reference replaced. `input_encoding` applies to
    inputs without an encoding option (Mender URL-encodes them in a URI)."""

    def replace(m: re.Match[str]) -> str:
        value = resolve(_reference(m), scope, input_encoding)
        return m.group(0) if value is None else value

    return REFERENCE.sub(replace, text)


def resolve(ref: Reference, scope: Scope, input_encoding: str = "plain") -> str | None:
    """The text a reference stands for; None to leave it as written."""
    if ref.problem is not None or not ref.kind:
        return None
    default = ref.default or ""
    if ref.kind == "input":
        if ref.name not in scope.inputs:
            return default
        return encode(input_text(scope.inputs[ref.name]), ref.encoding or input_encoding)
    if ref.kind == "env":
        value = scope.env.get(ref.name, "")
    else:
        if ref.name not in scope.results:
            return None
        value = json_text(lookup(scope.document(ref.name), ref.path))
    return encode(value, ref.encoding or "plain") if value else default


def substitute_json(value: Any, scope: Scope) -> Any:
    """A `json` body with every string substituted. A string that is exactly
    `${workflow.input.X}` becomes the input's value with its type (null if
    the input is missing and there is no default)."""
    if isinstance(value, str):
        m = REFERENCE.fullmatch(value)
        if m:
            ref = _reference(m)
            if ref.kind == "input" and ref.encoding is None and ref.problem is None:
                if ref.name in scope.inputs:
                    return copy.deepcopy(scope.inputs[ref.name])
                return ref.default
        return substitute(value, scope)
    if isinstance(value, Mapping):
        return {k: substitute_json(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_json(v, scope) for v in value]
    return value


def lookup(document: Any, path: str) -> Any:
    """The value at a gojsonq-style path (`a.b.[0].c`, also `a.b[0].c`), or None."""
    current = document
    for part in path.split("."):
        m = _PATH_PART.fullmatch(part)
        if m is None or not part:
            return None
        key, indices = m.groups()
        if key:
            if not isinstance(current, dict) or key not in current:
                return None
            current = current[key]
        for index in _INDEX.findall(indices):
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
    return current


def path_problem(path: str) -> str | None:
    """Why a JSON path can never match, or None."""
    if not path:
        return "an empty JSON path"
    for part in path.split("."):
        if not part or _PATH_PART.fullmatch(part) is None:
            return f"a malformed JSON path {path!r} (expected e.g. a.b.[0].c)"
    return None


def encode(text: str, encoding: str) -> str:
    if encoding == "url":
        return quote_plus(text, safe="")  # Go's url.QueryEscape
    if encoding == "html":
        return text.translate(_HTML)
    return text


def input_text(value: Any) -> str:
    """An input inside a string: a list is joined with commas."""
    if isinstance(value, list):
        return ",".join(json_text(v) for v in value)
    return json_text(value)


def json_text(value: Any) -> str:
    """A value inside a string: strings as they are, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return go_json(value)


def go_json(value: Any) -> str:
    """Compact JSON with sorted keys and whole floats without `.0`, as Go writes it."""
    return json.dumps(_go_numbers(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _go_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, Mapping):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value
