"""Expressions in a shell script (`run:`): values reach the shell as data.

Each `${{ … }}` is replaced by a reference to an environment variable that
holds its value, quoted for where it stands (outside quotes, in double or
single quotes, in a here-document, in a comment). The shell expands a
variable's value but never parses it as code, so no value can run a command
wherever the author placed it: when the scanner below misjudges where an
expansion stands, the value may come out wrong, never executed.

Two places cannot take a value safely and are refused: a here-document with a
quoted delimiter (`<<'EOF'`, which expands nothing) and, unless the value is
an integer, an arithmetic expansion `$(( … ))` (bash evaluates the text of
variables there as code).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from swamp import expressions
from swamp.expressions import EXPRESSION, ExpressionError

VARIABLE_PREFIX = "SWAMP_EXPR_"

UNQUOTED, DOUBLE, SINGLE = "unquoted", "double", "single"
COMMENT, HEREDOC, QUOTED_HEREDOC, ARITHMETIC = "comment", "heredoc", "quoted-heredoc", "arithmetic"

_MARK = "\x00"  # stands for an expansion while scanning; a script cannot hold NUL
_INTEGER = re.compile(r"-?[0-9]+")
_WORD_END = " \t\n;&|()<>"


def render_script(script: str, context: Mapping[str, Any], variables: dict[str, str]) -> str:
    """The script with each expansion replaced by a quoted variable reference;
    the values are added to `variables` (to go into the shell's environment)."""
    matches = list(EXPRESSION.finditer(script))
    if not matches:
        return script
    if _MARK in script:
        raise ExpressionError("a script cannot contain a NUL character")
    literals = _literals(script, matches)
    places = contexts(_MARK.join(literals))
    out = [literals[0]]
    for m, place, literal in zip(matches, places, literals[1:], strict=True):
        value = expressions.text(expressions.evaluate(m.group(1), context))
        out.append(_reference(m.group(0), value, place, variables))
        out.append(literal)
    return "".join(out)


def display_script(script: str, context: Mapping[str, Any]) -> str:
    """The script as a reviewer should read it: each value written in place,
    quoted for where it stands. (What runs is `render_script`'s form.)"""
    matches = list(EXPRESSION.finditer(script))
    if not matches or _MARK in script:
        return script
    literals = _literals(script, matches)
    out = [literals[0]]
    for m, place, literal in zip(
        matches, contexts(_MARK.join(literals)), literals[1:], strict=True
    ):
        value = expressions.text(expressions.evaluate(m.group(1), context))
        out.append(_quoted(value, place))
        out.append(literal)
    return "".join(out)


def _quoted(value: str, place: str) -> str:
    if place == UNQUOTED:
        return shlex.quote(value)
    if place == DOUBLE:
        return re.sub(r'([\\"$`])', r"\\\1", value)  # inside "…" only \ " $ ` are special
    if place == SINGLE:
        return value.replace("'", "'\\''")  # close, an escaped quote, reopen
    return value  # a here-document, a comment, arithmetic: shown as it is


def static_problems(script: str) -> list[tuple[int, str]]:
    """Expansions placed where no value can go, whatever the inputs: each as
    (its offset in the script, the reason)."""
    matches = list(EXPRESSION.finditer(script))
    if not matches or _MARK in script:
        return []
    out = []
    places = contexts(_MARK.join(_literals(script, matches)))
    for m, place in zip(matches, places, strict=True):
        if place == QUOTED_HEREDOC:
            try:
                _reference(m.group(0), "", place, {})
            except ExpressionError as e:
                out.append((m.start(), str(e)))
    return out


def _literals(script: str, matches: list[re.Match[str]]) -> list[str]:
    """The text around the expansions: one more piece than expansions."""
    starts = [0, *(m.end() for m in matches)]
    ends = [*(m.start() for m in matches), len(script)]
    return [script[a:b] for a, b in zip(starts, ends, strict=True)]


def _reference(source: str, value: str, place: str, variables: dict[str, str]) -> str:
    if place == ARITHMETIC:
        if not _INTEGER.fullmatch(value):
            raise ExpressionError(
                f"{source}: in an arithmetic expansion $(( … )) a value must be an integer, "
                f"got {value!r}"
            )
        return value
    if place == QUOTED_HEREDOC:
        raise ExpressionError(
            f"{source}: a here-document with a quoted delimiter (<<'EOF') expands nothing; "
            "use an unquoted delimiter (<<EOF)"
        )
    name = f"{VARIABLE_PREFIX}{len(variables) + 1}"
    variables[name] = value
    if place == UNQUOTED:
        return f'"${{{name}}}"'
    if place == SINGLE:
        return f"'\"${{{name}}}\"'"  # close the quotes, expand in double quotes, reopen
    return f"${{{name}}}"  # in double quotes, a here-document or a comment


def contexts(template: str) -> list[str]:
    """Where each expansion mark in `template` stands, as a POSIX shell lexer
    sees it: enough of the grammar to quote a value correctly, and safe where
    it is not enough (see the module's docstring)."""
    found: list[str] = []
    # A stack of quoting contexts: `$( … )` and backquotes open an unquoted
    # one, even inside double quotes.
    stack: list[str] = [UNQUOTED]
    parens: list[int] = [0]  # open parentheses in each command substitution
    arithmetic = 0
    pending: list[tuple[str, bool, bool]] = []  # here-documents: delimiter, quoted, strip tabs
    word_start = True
    i = 0
    n = len(template)
    while i < n:
        c = template[i]
        state = stack[-1]
        if c == _MARK:
            found.append(ARITHMETIC if arithmetic and state != SINGLE else state)
            word_start = False
            i += 1
            continue
        if state == SINGLE:
            if c == "'":
                stack.pop()
            i += 1
            continue
        if c == "\\":
            # An escaped character; an expansion right after a backslash is
            # still an expansion (the mark is read on the next round).
            i += 1 if template.startswith(_MARK, i + 1) else 2
            word_start = False
            continue
        if template.startswith("$((", i):
            arithmetic += 1
            i += 3
            continue
        if arithmetic and template.startswith("))", i):
            arithmetic -= 1
            i += 2
            continue
        if template.startswith("$(", i):
            stack.append(UNQUOTED)
            parens.append(0)
            i += 2
            word_start = True
            continue
        if c == "`":
            if state == "backquote":
                stack.pop()
            else:
                stack.append("backquote")
            i += 1
            continue
        if state == DOUBLE:
            if c == '"':
                stack.pop()
            i += 1
            continue
        # Outside quotes (top level, in $( … ) or in backquotes).
        if c == "'":
            stack.append(SINGLE)
        elif c == '"':
            stack.append(DOUBLE)
        elif c == "#" and word_start:
            end = template.find("\n", i)
            end = n if end < 0 else end
            found += [COMMENT] * template.count(_MARK, i, end)
            i = end
            continue
        elif c == "(" and len(stack) > 1:
            parens[-1] += 1
        elif c == ")" and len(stack) > 1 and state == UNQUOTED:
            if parens[-1]:
                parens[-1] -= 1
            else:
                stack.pop()
                parens.pop()
        elif template.startswith("<<", i) and not template.startswith("<<<", i) and not arithmetic:
            i = _heredoc_operator(template, i, pending, found)
            word_start = True
            continue
        elif c == "\n" and pending:
            i = _heredoc_bodies(template, i + 1, pending, found)
            word_start = True
            continue
        word_start = c in _WORD_END
        i += 1
    if len(found) != template.count(_MARK):  # pragma: no cover - a scanner bug, said plainly
        raise ExpressionError("cannot tell where each expression stands in this script")
    return [UNQUOTED if place == "backquote" else place for place in found]


def _heredoc_operator(
    template: str, i: int, pending: list[tuple[str, bool, bool]], found: list[str]
) -> int:
    """Read `<<[-] WORD`; the body starts at the next newline."""
    j = i + 2
    strip = template.startswith("-", j)
    j += 1 if strip else 0
    while j < len(template) and template[j] in " \t":
        j += 1
    start = j
    quote = ""
    while j < len(template):
        ch = template[j]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            j += 1
        elif ch in _WORD_END:
            break
        j += 1
    word = template[start:j]
    found += [UNQUOTED] * word.count(_MARK)
    quoted = any(ch in word for ch in "'\"\\")
    delimiter = re.sub(r"\\(.)|['\"]", r"\1", word)
    if delimiter:
        pending.append((delimiter, quoted, strip))
    return j


def _heredoc_bodies(
    template: str, i: int, pending: list[tuple[str, bool, bool]], found: list[str]
) -> int:
    """Skip the bodies of the pending here-documents, noting marks in them."""
    while pending:
        delimiter, quoted, strip = pending.pop(0)
        while i < len(template):
            end = template.find("\n", i)
            end = len(template) if end < 0 else end
            line = template[i:end]
            i = end + 1
            found += [QUOTED_HEREDOC if quoted else HEREDOC] * line.count(_MARK)
            if (line.lstrip("\t") if strip else line) == delimiter:
                break
    return i
