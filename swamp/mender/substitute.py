"""Mender's `${…}` substitution, done when a task executes.

    ${NAME}   ${NAME|default}   ${encoding=url;NAME}   ${encoding=html;NAME|default}

NAME is `workflow.input.X` (an input), `env.X` (an environment variable) or
`TASK.json.PATH` (a value in the JSON an earlier task returned or printed;
PATH is dotted, with array indices as in `a.b.[0].c`). Options come before
the name, each ending in `;`. Any other name (a shell's `${HOME}`) becomes
its default or nothing, as in Mender.

Values are data: a substituted value is never substituted again. Everything
else follows Mender's worker (app/processor/string.go and job.go) and writes
JSON as Go's encoding/json does.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

# Mender's own pattern (app/processor/string.go, regexVariable): options are
# `key=value;` pairs, the name stops at `;`, `}` or `|`, a default is not empty.
REFERENCE = re.compile(
    r"\$\{(?P<options>(?:(?:[a-zA-Z]+)=(?:[a-zA-Z0-9]+);)*)"
    r"(?P<name>[^;\}\|]+)(?:\|(?P<default>[^\}]+))?\}"
)
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
    kind: str  # "input", "env", "task", or "" for a name Mender reads as nothing
    name: str  # the input, the variable or the task
    path: str  # for a task: the JSON path
    default: str | None
    encoding: str | None  # set by an option
    problem: str | None  # an option Mender ignores (likely a typo)


def find(text: str) -> Iterator[Reference]:
    """Every `${…}` in `text`."""
    for m in REFERENCE.finditer(text):
        yield _reference(m)


def _reference(m: re.Match[str]) -> Reference:
    encoding = problem = None
    for option in filter(None, m.group("options").split(";")):
        key, _, value = option.partition("=")
        if key == "encoding" and value in ENCODINGS:
            encoding = value  # the last one counts, as in Mender
        elif problem is None:
            problem = f"unknown option {option + ';'!r}"
    target = m.group("name")
    kind, name, path = "", target, ""
    if target.startswith(INPUT_PREFIX) and len(target) > len(INPUT_PREFIX):
        kind, name = "input", target[len(INPUT_PREFIX) :]
    elif target.startswith(ENV_PREFIX) and len(target) > len(ENV_PREFIX):
        kind, name = "env", target[len(ENV_PREFIX) :]
    elif JSON_MARK in target:
        kind = "task"
        # Mender's `(.*)\.json\.(.*)` is greedy: the task name ends at the last `.json.`.
        name, _, path = target.rpartition(JSON_MARK)
    return Reference(m.group(0), kind, name, path, m.group("default"), encoding, problem)


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


def substitute(text: str, scope: Scope) -> str:
    """`text` with every reference replaced, as Mender's ProcessJobString does
    (but in one pass: a substituted value is never read again)."""
    return REFERENCE.sub(lambda m: resolve(_reference(m), scope), text)


def resolve(ref: Reference, scope: Scope) -> str:
    """The text a reference stands for. As in Mender, the default (or nothing)
    stands in for a missing value, and the encoding applies to the default too;
    a name that is not an input, env or task output reads as the default."""
    value = ref.default or ""
    if ref.kind == "input":
        if ref.name in scope.inputs:  # present, even empty
            value = input_text(scope.inputs[ref.name])
    elif ref.kind == "env":
        value = scope.env.get(ref.name) or value
    elif ref.kind == "task" and ref.name in scope.results:
        value = json_text(lookup(scope.document(ref.name), ref.path)) or value
    return encode(value, ref.encoding or "plain")


def substitute_json(value: Any, scope: Scope) -> Any:
    """A `json` body (or `nats` data) with every string substituted, as Mender's
    ProcessJSON does: a string that starts with `${workflow.input.` and ends
    with `}` is replaced by the input's value with its type when the text in
    between is exactly an input's name, and by null otherwise (a default or
    anything else after the name included)."""
    if isinstance(value, str):
        if len(value) > 3 and value.startswith("${") and value.endswith("}"):
            key = value[2:-1]
            if key.startswith(INPUT_PREFIX) and len(key) > len(INPUT_PREFIX):
                raw = scope.inputs.get(key[len(INPUT_PREFIX) :])
                return copy.deepcopy(raw)
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
    """An input inside a string, as Mender's API stores it (InputParameter.Value):
    a list is its items joined with commas, each as text."""
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return _text(value)


def json_text(value: Any) -> str:
    """A value read from a task's output inside a string: nothing for a
    missing value, else as text."""
    return "" if value is None else _text(value)


def _text(value: Any) -> str:
    """Mender's ConvertAnythingToString: a string as it is, anything else as
    Go's json.Marshal writes it (null included)."""
    return value if isinstance(value, str) else go_json(value)


def go_json(value: Any) -> str:
    """JSON exactly as Go's json.Marshal writes a decoded value: compact, keys
    sorted, every number a float64, HTML characters escaped."""
    out: list[str] = []
    _go_value(value, out)
    return "".join(out)


def _go_value(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif isinstance(value, int | float):
        out.append(go_number(value))
    elif isinstance(value, str):
        out.append(go_string(value))
    elif isinstance(value, Mapping):
        out.append("{")
        # Go sorts map keys by their bytes; code point order is the same for UTF-8.
        for i, key in enumerate(sorted(value, key=str)):
            out.append("," if i else "")
            out.append(go_string(str(key)) + ":")
            _go_value(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            _go_value(item, out)
        out.append("]")
    else:
        raise ValueError(f"json: unsupported type: {type(value).__name__}")


def go_number(number: float) -> str:
    """A number as Go's encoding/json writes a float64 (every JSON number Mender
    decodes is one): the shortest digits that read back, in plain notation
    unless it is below 1e-6 or from 1e21 on, then as `1e-7` or `1e+21`."""
    try:
        f = float(number)
    except OverflowError:
        raise ValueError(f"json: unsupported value: {number}") from None
    if math.isinf(f) or math.isnan(f):
        raise ValueError(f"json: unsupported value: {number}")
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(f)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    point = len(digits) + exponent  # where the decimal point goes in `digits`
    minus = "-" if sign else ""
    if 1e-6 <= abs(f) < 1e21:
        if point <= 0:
            return f"{minus}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return minus + digits + "0" * (point - len(digits))
        return f"{minus}{digits[:point]}.{digits[point:]}"
    mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
    e = point - 1
    # strconv pads the exponent to two digits; encoding/json trims `e-07` to `e-7`.
    return f"{minus}{mantissa}e+{e:02d}" if e >= 0 else f"{minus}{mantissa}e-{-e}"


_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def go_string(text: str) -> str:
    """A JSON string as Go's json.Marshal writes it (Go 1.22, which Mender's
    worker is built with): <, > and & escaped, U+2028 and U+2029 escaped,
    other control characters as \\u00XX, invalid UTF-8 (a lone surrogate
    here) as \\ufffd, everything else as it is."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or ch in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
