"""`${{ … }}` expressions, evaluated by a sandboxed Jinja2 environment.

Only the text between `${{` and `}}` is ever compiled; the rest of a string,
and every value that comes from inputs or outputs, is data and never a
template, so an input such as `{{ 7*7 }}` stays exactly that.

Evaluation is bounded: an expression has no loops, so its time and memory are
bounded by its operations' sizes, and the ones that can grow without limit
are checked before they run (`**`, `*` and `%` on strings and lists, padding
filters, str.format widths). Results must be data (JSON's kinds, finite
numbers) of at most MAX_SIZE characters or items.
"""

from __future__ import annotations

import json
import math
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
# The largest string or list an expression may build, and the largest
# integer (in bits) `**` may produce.
MAX_SIZE = 1_000_000
MAX_BITS = 100_000
# A width in a %-format or str.format spec: padding that big is refused.
# In str.format, a width given by a nested field ({0:>{1}}) is refused too.
_WIDE = re.compile(r"(?:%|\{[^{}]*:)[^a-zA-Z%{}]*(?:\*|[0-9]{6,})|\{[^{}]*:[^{}]*\{")
# Filters that pad or repeat by a number argument.
_SIZED_FILTERS = ("center", "indent", "wordwrap", "slice", "batch", "truncate", "format")
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
    # start-up time: jinja2 loads only when used
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Environment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"**", "*", "%"})

        # `steps.x.outputs.items` must read the output named "items", not the
        # dict method: prefer keys for mappings.
        def getattr(self, obj: Any, attribute: str) -> Any:
            if isinstance(obj, Mapping) and attribute in obj:
                return obj[attribute]
            return super().getattr(obj, attribute)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            wrapped = super().wrap_str_format(value)
            if wrapped is not None:  # str.format and format_map: check the widths first
                _check_format(value.__self__)
            return wrapped

    env = Environment(undefined=StrictUndefined, autoescape=False)
    env.globals.pop("lipsum", None)  # makes text by the megabyte on request
    for name in _SIZED_FILTERS:
        env.filters[name] = _sized(name, env.filters[name])
    return env


def _refuse(what: str) -> None:
    raise ExpressionError(f"refused: {what} (an expression may build at most {MAX_SIZE} items)")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse, before it runs, an operation whose result would be huge."""
    if operator == "**":
        ints = isinstance(left, int) and isinstance(right, int)
        if ints and right > 0 and abs(left) > 1 and right * math.log2(abs(left)) > MAX_BITS:
            raise ExpressionError(f"refused: {left} ** {right} has more than {MAX_BITS} bits")
    elif operator == "*":
        for seq, n in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(n, int)
                and len(seq) * n > MAX_SIZE
            ):
                _refuse(f"repeating {len(seq)} items {n} times")
    elif operator == "%" and isinstance(left, str):
        _check_format(left)


def _check_format(text: str) -> None:
    if _WIDE.search(text):
        _refuse("a format width of a million or more, or one given by `*`")


def _sized(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose number arguments may not ask for a huge result."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_SIZE:
                _refuse(f"{name}({value})")
        if name == "format" and args and isinstance(args[0], str):
            _check_format(args[0])
        return original(*args, **kwargs)

    for attribute in ("jinja_pass_arg",):  # keep how Jinja calls it
        if hasattr(original, attribute):
            setattr(checked, attribute, getattr(original, attribute))
    return checked


def _as_data(value: Any, source: str) -> Any:
    """The result as data, or ExpressionError: an unsafe or undefined value
    nested in a list, a NaN, a range or a function never leaves evaluation."""
    # start-up time: jinja2 loads only when used
    from jinja2 import Undefined

    budget = [MAX_SIZE]

    def walk(v: Any) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise ExpressionError(f"${{{{{source}}}}}: the result has more than {MAX_SIZE} items")
        if isinstance(v, Undefined):
            v._fail_with_undefined_error()
        if v is None or isinstance(v, bool | int):
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ExpressionError(f"${{{{{source}}}}}: {v} is not a finite number")
            return v
        if isinstance(v, str):
            budget[0] -= len(v) // 100
            if len(v) > MAX_SIZE:
                raise ExpressionError(
                    f"${{{{{source}}}}}: the result is longer than {MAX_SIZE} characters"
                )
            return v
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        if isinstance(v, Mapping):
            return {str(k): walk(x) for k, x in v.items()}
        raise ExpressionError(
            f"${{{{{source}}}}}: the result is a {type(v).__name__}, not data "
            "(a string, number, boolean, list or object)"
        )

    return walk(value)


def parse(source: str) -> nodes.Expr:
    """The AST of one expression, or ExpressionError naming the problem."""
    # start-up time: jinja2 loads only when used
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
    # start-up time: jinja2 loads only when used
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
    # start-up time: jinja2 loads only when used
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
        result = _as_data(result, source)
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
