"""Errors are part of the interface: one base class, one line per problem."""

from __future__ import annotations

from dataclasses import dataclass


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
        return f"{self.file}:{self.line}:{self.column}: {prefix}{self.message}"

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
