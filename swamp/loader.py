"""Safe loading of YAML and JSON files, keeping where every node was.

PyYAML composes the node tree (in C where available); we construct plain
Python values ourselves so that we can refuse duplicate keys and unsafe tags,
bound alias expansion, keep timestamps as strings, and remember the line and
column of every value and key for error messages.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from swamp.errors import Problem, SwampError
from swamp.paths import shown

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
# Deeper than any definition needs, and well within Python's recursion limit.
MAX_DEPTH = 100

try:  # C-accelerated composer when libyaml is present.
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

JsonPath = tuple[str | int, ...]

_YAML_TAG = "tag:yaml.org,2002:"
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
_CONSTRUCT = {
    "tag:yaml.org,2002:int": _constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _constructor.construct_yaml_float,
    "tag:yaml.org,2002:bool": _constructor.construct_yaml_bool,
}


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
    # Where each string value's source text starts and ends (character offsets).
    spans: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

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

    def where_in(self, path: JsonPath, value: str, offset: int) -> tuple[int, int]:
        """The position of `value[offset:]` (a part of the string at `path`,
        such as one expression in a script) when it can be found in the source
        as written; else the position of the string."""
        span = self.spans.get(tuple(path))
        if span is None:
            return self.where(path)
        # The part is found again in the source, as the same occurrence: quotes,
        # escapes and block indentation elsewhere in the string do not matter.
        end = value.find("}}", offset)
        part = value[offset : end + 2 if end >= 0 else len(value)]
        occurrence = value.count(part, 0, offset)
        source = self.text[span[0] : span[1]]
        at = -1
        for _ in range(occurrence + 1):
            at = source.find(part, at + 1)
            if at < 0:
                return self.where(path)
        index = span[0] + at
        line = self.text.count("\n", 0, index) + 1
        return line, index - (self.text.rfind("\n", 0, index) + 1) + 1

    def problem(
        self,
        path: JsonPath,
        message: str,
        *,
        key: bool = False,
        within: tuple[str, int] | None = None,
    ) -> Problem:
        """A Problem at `path`; `within` = (the string at path, an offset in it)
        points at a part of that string."""
        if within is not None:
            line, col = self.where_in(path, *within)
        else:
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


def read_text(path: Path, display: str, *, follow_symlinks: bool = True) -> str:
    """The file's text, read up to the size limit (`follow_symlinks=False`:
    a file that is a symbolic link is refused by the system, atomically)."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        # Bounded: a device or a pipe (/dev/zero) has no size to check first.
        with os.fdopen(os.open(path, flags), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            # Asking for the whole limit would allocate it for every small file.
            data = f.read(size + 1) if size <= MAX_FILE_BYTES else b""
            if len(data) > size:  # grown since, or a device: read on, up to the limit
                data += f.read(MAX_FILE_BYTES + 1 - len(data))
        if size > MAX_FILE_BYTES:
            raise LoadError(
                Problem(display, 1, 1, f"file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes")
            )
        if len(data) > MAX_FILE_BYTES:
            raise LoadError(
                Problem(display, 1, 1, f"file is longer than the limit of {MAX_FILE_BYTES} bytes")
            )
        return data.decode("utf-8")
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


def _is_tab(text: str, line: int, column: int) -> bool:
    lines = text.splitlines()
    return line < len(lines) and "\t" in lines[line][: column + 1]


def load_yaml_text(text: str, display: str, *, positions: bool = True) -> Document:
    """`positions=False` skips recording where each node is, for a reader that
    loads many small files and needs positions only for the one it refuses
    (it loads that one again)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = e.problem or e.context or "invalid YAML"
        if mark is not None and _is_tab(text, mark.line, mark.column):
            what = "a tab character in the indentation; YAML indents with spaces only"
        if e.context and what.startswith("but "):  # "but found another document"
            what = f"{e.context}, {what}"
        raise LoadError(Problem(display, line, col, f"invalid YAML: {what}")) from None
    except yaml.YAMLError as e:
        # A reader error names the character and where, over two lines: keep the first.
        first = str(e).split("\n", 1)[0]
        line, col = 1, 1
        position = getattr(e, "position", None)
        if isinstance(position, int):
            line = text.count("\n", 0, position) + 1
            col = position - (text.rfind("\n", 0, position) + 1) + 1
        raise LoadError(Problem(display, line, col, f"invalid YAML: {first}")) from None
    doc = Document(display, None, text=text)
    if node is None:
        return doc
    # Without an alias, no node is shared: the tree is no bigger than the text
    # (a node takes at least a character or two), and its depth is checked
    # while it is built. Only a text with `*` can hide an expansion.
    small = "*" not in text and len(text) <= MAX_NODES // 4
    doc.data = _Builder(doc, positions=positions).build(node, (), measured=not small)
    return doc


class _NotFinite(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _no_constant(name: str) -> Any:
    """JSON's NaN, Infinity and -Infinity (a Python extension) are refused."""
    raise _NotFinite(name)


def load_json_text(text: str, display: str) -> Document:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise _DuplicateKeyError(k)
            out[k] = v
        return out

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=_no_constant)
    except _NotFinite as e:
        at = max(0, text.find(e.name))
        line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        raise LoadError(Problem(display, line, col, f"{e.name} is not a finite number")) from None
    except json.JSONDecodeError as e:
        raise LoadError(Problem(display, e.lineno, e.colno, f"invalid JSON: {e.msg}")) from None
    except RecursionError:
        raise LoadError(Problem(display, 1, 1, _too_deep())) from None
    except _DuplicateKeyError as e:
        # json does not say where; YAML composition of the same text does.
        line, col = _duplicate_position(text, display, e.key)
        raise LoadError(Problem(display, line, col, f"duplicate key '{e.key}'")) from None
    doc = Document(display, data, text=text)
    # JSON is (nearly) YAML: compose it only to learn positions. The values
    # come from json, which is exact; positions are best effort.
    try:
        node = yaml.compose(text, Loader=_Loader)
        if node is not None:
            _Builder(doc).build(node, ())
    except _TooDeepError:
        raise
    except (yaml.YAMLError, LoadError):
        doc.marks = {(): (1, 1)}
        doc.key_marks = {}
        doc.spans = {}
        if _deeper_than(data, MAX_DEPTH):  # what the YAML pass would have refused
            raise LoadError(Problem(display, 1, 1, _too_deep())) from None
    doc.data = data
    return doc


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
    return False


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep"


def _duplicate_position(text: str, display: str, key: str) -> tuple[int, int]:
    try:
        node = yaml.compose(text, Loader=_Loader)
        if node is not None:
            _Builder(Document(display, None)).build(node, ())
    except LoadError as e:
        if e.problem.message == f"duplicate key '{key}'":
            return e.problem.line, e.problem.column
    except yaml.YAMLError:
        pass
    return _find_key(text, key)


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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _unsupported(tag: str) -> str:
    short = "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag
    return f"unsupported tag {short} (only strings, numbers, booleans, null, lists and mappings)"


class _TooDeepError(LoadError):
    pass


class _Builder:
    """Turns a composed node tree into plain values, recording marks."""

    def __init__(self, doc: Document, *, positions: bool = True) -> None:
        self.doc = doc
        self.positions = positions

    def fail(self, node: yaml.Node, message: str) -> LoadError:
        m = node.start_mark
        return LoadError(Problem(self.doc.path, m.line + 1, m.column + 1, message))

    def build(self, node: yaml.Node, path: JsonPath, *, measured: bool = True) -> Any:
        """Plain values of the tree at `node`; `measured=False` when the tree
        cannot be larger than MAX_NODES (no alias in a small text): only its
        depth is checked, while building."""
        if measured:
            self._check_size(node)
            return self._build(node, path)
        try:
            return self._build(node, path, MAX_DEPTH)
        except _TooDeepError:
            self._check_size(node)  # the same problem, found where the full check finds it
            raise

    def _check_size(self, root: yaml.Node) -> None:
        """Refuse recursion, depth and alias expansion before building anything.

        Aliases share nodes, so sizes are counted once per node: a billion
        laughs is measured in a few thousand steps, then reported at the
        first node whose expansion is too large.
        """
        sizes: dict[int, int] = {}
        ancestry: set[int] = set()

        def measure(node: yaml.Node, depth: int) -> int:
            if id(node) in sizes:
                return sizes[id(node)]
            if id(node) in ancestry:
                raise self.fail(
                    node, "an alias refers to a node that contains it (recursive alias)"
                )
            if depth > MAX_DEPTH:
                m = node.start_mark
                raise _TooDeepError(Problem(self.doc.path, m.line + 1, m.column + 1, _too_deep()))
            total = 1
            ancestry.add(id(node))
            for child in _children(node):
                total += measure(child, depth + 1)
            ancestry.discard(id(node))
            sizes[id(node)] = total
            return total

        node = root
        if measure(root, 0) <= MAX_NODES:
            return
        while True:
            bigger = next((c for c in _children(node) if sizes[id(c)] > MAX_NODES), None)
            if bigger is None:
                raise self.fail(
                    node,
                    f"holds more than {MAX_NODES} values once aliases are expanded",
                )
            node = bigger

    def _build(self, node: yaml.Node, path: JsonPath, max_depth: int | None = None) -> Any:
        if max_depth is not None and len(path) > max_depth:
            m = node.start_mark
            raise _TooDeepError(Problem(self.doc.path, m.line + 1, m.column + 1, _too_deep()))
        if self.positions:
            mark = node.start_mark
            self.doc.marks.setdefault(path, (mark.line + 1, mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            if self.positions:
                self.doc.spans.setdefault(path, (node.start_mark.index, node.end_mark.index))
            return self._scalar(node)
        return self._collection(node, path, max_depth)

    def _collection(self, node: yaml.Node, path: JsonPath, max_depth: int | None) -> Any:
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self.fail(node, _unsupported(node.tag))
            out: dict[str, Any] = {}
            for key_node, value_node in self._pairs(node):
                key = self._key(key_node)
                if key in out:
                    raise self.fail(key_node, f"duplicate key '{key}'")
                sub = (*path, key)
                if self.positions:
                    self.doc.key_marks.setdefault(
                        sub, (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                    )
                out[key] = self._build(value_node, sub, max_depth)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self.fail(node, _unsupported(node.tag))
            return [self._build(item, (*path, i), max_depth) for i, item in enumerate(node.value)]
        raise self.fail(node, "unsupported node")  # pragma: no cover - PyYAML has three kinds

    def _pairs(self, node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        """Pairs of a mapping, with YAML merge keys (<<) expanded first."""
        if not any(k.tag == _MERGE for k, _ in node.value):
            yield from node.value
            return
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
            raise self.fail(node, _unsupported(node.tag))
        # Keys are strings: `on:`, `1:` and `yes:` keep their spelling.
        return str(node.value)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag not in _SAFE_SCALAR_TAGS:
            raise self.fail(node, _unsupported(tag))
        if tag in (_STR, "tag:yaml.org,2002:timestamp"):
            return node.value  # timestamps stay the strings the author wrote
        construct = _CONSTRUCT.get(tag)
        if construct is None:
            return None
        try:
            value = construct(node)
        except (ValueError, KeyError):  # an explicit tag on a wrong value: `!!int abc`
            short = tag.removeprefix(_YAML_TAG)
            raise self.fail(node, f"'{shown(node.value, 60)}' is not a valid {short}") from None
        if isinstance(value, float) and not math.isfinite(value):
            # `.nan` and `.inf` would pass every numeric check (NaN > 0 is
            # false, and so is NaN < 0): a sleep or a timeout would ignore them.
            raise self.fail(node, f"{node.value!r} is not a finite number")
        return value


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The safe dumper (libyaml's where installed) that also writes a state
    (a StrEnum) as the plain string it stands for."""


_Dumper.add_multi_representer(StrEnum, lambda dumper, value: dumper.represent_str(str(value)))


def dump_yaml(data: Any) -> str:
    """Readable, stable YAML for the files swamp writes."""
    return str(
        yaml.dump(
            data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
        )
    )
