"""Safe loading of YAML and JSON files, keeping where every node was.

PyYAML composes the node tree (in C where available); we construct plain
Python values ourselves so that we can refuse duplicate keys and unsafe tags,
bound alias expansion, keep timestamps as strings, and remember the line and
column of every value and key for error messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swamp.errors import Problem, SwampError

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000

try:  # C-accelerated composer when libyaml is present.
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

JsonPath = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_SAFE_SCALAR_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_constructor = yaml.constructor.SafeConstructor()


class LoadError(SwampError):
    """A file that cannot be read or parsed; carries its problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


@dataclass
class Document:
    """A loaded file: its data and the (line, column) of each node, 1-based."""

    path: str
    data: Any
    marks: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    text: str = ""

    def where(self, path: JsonPath, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest known ancestor."""
        path = tuple(path)
        if key and path in self.key_marks:
            return self.key_marks[path]
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return self.marks.get((), (1, 1))

    def problem(self, path: JsonPath, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.path, line, col, message)


def format_path(path: JsonPath) -> str:
    """`jobs.build.steps[0].model` for humans."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_text(path: Path, display: str) -> str:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise LoadError(Problem(display, 1, 1, f"cannot read file: {e.strerror}")) from None
    if size > MAX_FILE_BYTES:
        raise LoadError(
            Problem(display, 1, 1, f"file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes")
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise LoadError(Problem(display, 1, 1, f"not UTF-8 text: {e.reason}")) from None
    except OSError as e:
        raise LoadError(Problem(display, 1, 1, f"cannot read file: {e.strerror}")) from None


def load_file(path: Path, display: str | None = None) -> Document:
    """Load a .yaml/.yml/.json file into a Document, or raise LoadError."""
    display = display if display is not None else str(path)
    text = read_text(path, display)
    if path.suffix == ".json":
        return load_json_text(text, display)
    return load_yaml_text(text, display)


def load_yaml_text(text: str, display: str) -> Document:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = e.problem or e.context or "invalid YAML"
        raise LoadError(Problem(display, line, col, f"invalid YAML: {what}")) from None
    except yaml.YAMLError as e:
        raise LoadError(Problem(display, 1, 1, f"invalid YAML: {e}")) from None
    doc = Document(display, None, text=text)
    if node is None:
        return doc
    builder = _Builder(doc)
    doc.data = builder.build(node, ())
    return doc


def load_json_text(text: str, display: str) -> Document:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise _DuplicateKeyError(k)
            out[k] = v
        return out

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        raise LoadError(Problem(display, e.lineno, e.colno, f"invalid JSON: {e.msg}")) from None
    except _DuplicateKeyError as e:
        # json does not say where; YAML composition of the same text finds it.
        line, col = _find_key(text, e.key)
        raise LoadError(Problem(display, line, col, f"duplicate key '{e.key}'")) from None
    doc = Document(display, data, text=text)
    # JSON is (nearly) YAML: compose it only to learn positions. The values
    # come from json, which is exact; positions are best effort.
    try:
        node = yaml.compose(text, Loader=_Loader)
        if node is not None:
            _Builder(doc).build(node, ())
    except (yaml.YAMLError, LoadError):
        doc.marks = {(): (1, 1)}
        doc.key_marks = {}
    doc.data = data
    return doc


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _find_key(text: str, key: str) -> tuple[int, int]:
    needle = json.dumps(key)
    seen = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        col = line.find(needle)
        if col >= 0:
            seen += 1
            if seen == 2:
                return lineno, col + 1
    return 1, 1


class _Builder:
    """Turns a composed node tree into plain values, recording marks."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0

    def fail(self, node: yaml.Node, message: str) -> LoadError:
        m = node.start_mark
        return LoadError(Problem(self.doc.path, m.line + 1, m.column + 1, message))

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                f"document expands to more than {MAX_NODES} nodes (alias/anchor expansion refused)",
            )
        self.doc.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self.fail(node, f"unsupported tag {node.tag!r}")
            out: dict[str, Any] = {}
            for key_node, value_node in self._pairs(node):
                key = self._key(key_node)
                if key in out:
                    raise self.fail(key_node, f"duplicate key '{key}'")
                sub = (*path, key)
                self.doc.key_marks.setdefault(
                    sub, (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                )
                out[key] = self.build(value_node, sub)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self.fail(node, f"unsupported tag {node.tag!r}")
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node)

    def _pairs(self, node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        """Pairs of a mapping, with YAML merge keys (<<) expanded first."""
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for src in sources:
                    if not isinstance(src, yaml.MappingNode):
                        raise self.fail(src, "a merge key (<<) needs a mapping")
                    merged.extend(src.value)
            else:
                own.append((key_node, value_node))
        own_keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
        seen: set[str] = set()
        for k, v in merged:
            if isinstance(k, yaml.ScalarNode) and k.value not in own_keys and k.value not in seen:
                seen.add(k.value)
                yield k, v
        yield from own

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "a mapping key must be a plain string")
        if node.tag not in _SAFE_SCALAR_TAGS:
            raise self.fail(node, f"unsupported tag {node.tag!r}")
        # Keys are strings: `on:`, `1:` and `yes:` keep their spelling.
        return str(node.value)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag not in _SAFE_SCALAR_TAGS:
            raise self.fail(node, f"unsupported tag {tag!r}")
        if tag in (_STR, "tag:yaml.org,2002:timestamp"):
            return node.value  # timestamps stay the strings the author wrote
        if tag == "tag:yaml.org,2002:int":
            return _constructor.construct_yaml_int(node)
        if tag == "tag:yaml.org,2002:float":
            return _constructor.construct_yaml_float(node)
        if tag == "tag:yaml.org,2002:bool":
            return _constructor.construct_yaml_bool(node)
        return None


def dump_yaml(data: Any) -> str:
    """Readable, stable YAML for the files swamp writes."""
    dumper: type[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(
        yaml.dump(
            data, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
        )
    )
