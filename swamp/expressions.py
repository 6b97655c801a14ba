"""`${{ … }}` expressions, evaluated by a sandboxed Jinja2 environment.

Only the text between `${{` and `}}` is ever compiled; the rest of a string,
and every value that comes from inputs or outputs, is data and never a
template, so an input such as `{{ 7*7 }}` stays exactly that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from swamp.errors import SwampError

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
NAMESPACES = ("inputs", "steps", "jobs", "item", "env", "secrets")


class ExpressionError(SwampError):
    """An expression that cannot be parsed or evaluated."""


@dataclass(frozen=True)
class Reference:
    """A dotted name an expression reads, such as ('inputs', 'user')."""

    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.parts)


def has_expression(value: str) -> bool:
    return "${{" in value


def find(value: str) -> Iterator[tuple[str, int]]:
    """Each expression's source text and its offset in `value`."""
    for m in EXPRESSION.finditer(value):
        yield m.group(1), m.start()


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Environment(ImmutableSandboxedEnvironment):
        # `steps.x.outputs.items` must read the output named "items", not the
        # dict method: prefer keys for mappings.
        def getattr(self, obj: Any, attribute: str) -> Any:
            if isinstance(obj, Mapping) and attribute in obj:
                return obj[attribute]
            return super().getattr(obj, attribute)

    return Environment(undefined=StrictUndefined, autoescape=False)


def parse(source: str) -> nodes.Expr:
    """The AST of one expression, or ExpressionError naming the problem."""
    from jinja2 import TemplateSyntaxError
    from jinja2.parser import Parser

    env = _environment()
    try:
        parser = Parser(env, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError(
                f"unexpected {parser.stream.current.value!r} after the expression",
                parser.stream.current.lineno,
            )
    except TemplateSyntaxError as e:
        raise ExpressionError(f"invalid expression ${{{{{source}}}}}: {e.message}") from None
    return expr


def references(source: str) -> list[Reference]:
    """Every dotted name the expression reads (the longest constant chain)."""
    from jinja2 import nodes

    found: list[Reference] = []

    def chain(node: nodes.Node) -> tuple[str, ...] | None:
        if isinstance(node, nodes.Name):
            return (node.name,)
        if isinstance(node, nodes.Getattr):
            inner = chain(node.node)
            return (*inner, node.attr) if inner else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            inner = chain(node.node)
            return (*inner, str(node.arg.value)) if inner else None
        return None

    def visit(node: nodes.Node) -> None:
        parts = chain(node)
        if parts is not None:
            found.append(Reference(parts))
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(parse(source))
    return found


def text(value: Any) -> str:
    """How a value reads inside a longer string: JSON for lists and objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


@lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    return _environment().compile_expression(source, undefined_to_none=False)


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """The value of one expression in `context`."""
    from jinja2 import TemplateSyntaxError, Undefined, UndefinedError
    from jinja2.exceptions import SecurityError

    try:
        compiled = _compile(source)
    except TemplateSyntaxError as e:
        raise ExpressionError(f"invalid expression ${{{{{source}}}}}: {e.message}") from None
    try:
        result = compiled(**context)
        if isinstance(result, Undefined):
            result._fail_with_undefined_error()
    except ExpressionError:
        raise
    except UndefinedError:
        missing = _missing(source, context)
        space, _, name = missing.partition(".")
        if space in ("secrets", "env") and name and "." not in name:
            # Both read the environment: say which variable is missing.
            raise ExpressionError(
                f"${{{{{source}}}}}: {missing} is not defined: the environment variable "
                f"{name} is not set (swamp.yaml's {space}: lists the variables it may read)"
            ) from None
        raise ExpressionError(f"${{{{{source}}}}}: {missing} is not defined") from None
    except SecurityError as e:
        raise ExpressionError(f"${{{{{source}}}}}: refused by the sandbox: {e}") from None
    except Exception as e:  # errors inside user expressions: 1/0, bad filters…
        raise ExpressionError(f"${{{{{source}}}}}: {type(e).__name__}: {e}") from None
    return result


def _missing(source: str, context: Mapping[str, Any]) -> str:
    """The first name of `source` that `context` does not define."""
    for ref in references(source):
        current: Any = context
        for i, part in enumerate(ref.parts):
            if isinstance(current, Mapping) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return ".".join(ref.parts[: i + 1])
    return "a name"


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` with every expression evaluated, recursively.

    A string that is exactly one expression keeps the value's type. A shell
    script is rendered by `swamp.shell_script` instead (run: values through
    the environment; shown: each value quoted for where it stands).
    """
    return map_strings(value, lambda s: render_string(s, context))


def map_strings(value: Any, change: Callable[[str], Any]) -> Any:
    """A copy of `value` with `change` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {k: map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change) for v in value]
    return value


def render_string(value: str, context: Mapping[str, Any]) -> Any:
    if "${{" not in value:
        return value
    whole = EXPRESSION.fullmatch(value)
    if whole and "${{" not in whole.group(1):
        return evaluate(whole.group(1), context)
    out: list[str] = []
    pos = 0
    for m in EXPRESSION.finditer(value):
        out.append(value[pos : m.start()])
        out.append(text(evaluate(m.group(1), context)))
        pos = m.end()
    out.append(value[pos:])
    return "".join(out)


def walk_strings(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string in a nested value, with its path (for validation)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from walk_strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_strings(v, (*path, i))
