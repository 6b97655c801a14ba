"""Errors are part of the interface: one base class, one line per problem."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MAX = 600


def _escape(m: re.Match[str]) -> str:
    return m.group().encode("unicode_escape").decode("ascii")


class SwampError(Exception):
    """A problem the user can fix; printed as one line, exit code 1."""

    exit_code = 1


class UsageError(SwampError):
    """The command line itself is wrong; exit code 2."""

    exit_code = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one file, at a place in it."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        # One line, whatever a file's text put in it (keys, values, names).
        text = _CONTROL.sub(
            _escape, f"{self.file}:{self.line}:{self.column}: {prefix}{self.message}"
        )
        return text if len(text) <= _MAX else f"{text[:_MAX]}… ({len(text)} characters)"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "severity": self.severity,
        }


class InvalidFiles(SwampError):
    """Raised when files fail validation; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
