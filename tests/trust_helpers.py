"""Drive the CLI in-process for the trust tests and the hostile corpus."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from swamp import secrets
from swamp.cli import app


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def cli(repo: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """`swamp --repo REPO ARGS…` in this process, with `env` set meanwhile."""
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        result = CliRunner().invoke(app, ["--repo", str(repo), *args], catch_exceptions=False)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        secrets.clear()
    return Result(result.exit_code, result.stdout, result.stderr)


def problem_lines(text: str) -> list[str]:
    """Lines that report a refusal or a problem."""
    words = ("error", "warning", "refused")
    return [line for line in text.splitlines() if any(w in line for w in words)]
