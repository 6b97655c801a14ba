"""The command line explains itself, and starts without the heavy libraries."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from repo_helpers import imports_of, invoke

from swamp import __version__
from swamp.cli import app

HEAVY = ("jsonschema", "jinja2", "git", "httpx", "pydantic")


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group (Typer's own click: groups have `commands`)."""
    yield path
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


COMMANDS = list(_commands(typer.main.get_command(app)))


def _swamp(*args: str) -> subprocess.CompletedProcess[str]:
    return invoke(*args)


def test_every_command_is_walked() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {"", "validate", "method run", "queue execute", "run resume", "freeze"} <= names
    assert len(COMMANDS) >= 25


@pytest.mark.parametrize("path", COMMANDS, ids=lambda c: " ".join(c) or "swamp")
def test_help_explains_with_an_example(path: tuple[str, ...]) -> None:
    result = _swamp(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    text = result.stdout
    assert text.startswith(f"Usage: python -m swamp {' '.join(path)}".rstrip() + " ")
    description = text.split("\n\n", 2)[1].strip()
    assert len(description) > 20, "a sentence saying what the command does"
    examples = re.findall(r"^ {2,}(swamp .+)$", text.split("Example:", 1)[-1], re.MULTILINE)
    assert "Example:" in text
    assert examples, "at least one example"
    # The examples show this command (for a group, some command of it).
    prefix = " ".join(("swamp", *path))
    assert all(e == prefix or e.startswith(prefix + " ") for e in examples), examples


def test_version() -> None:
    result = _swamp("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"swamp {__version__}\n", "")


def test_no_arguments_shows_the_help_as_a_usage_error() -> None:
    result = _swamp()
    assert result.returncode == 2
    assert "Usage: python -m swamp [OPTIONS] COMMAND [ARGS]..." in result.stdout + result.stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["queue", "--help"]])
def test_help_and_version_do_not_import_heavy_libraries(args: list[str]) -> None:
    imported, _ = imports_of(*args)
    assert "swamp.cli" in imported  # the measurement sees swamp's own imports
    assert sorted(m for m in imported if m.split(".")[0] in HEAVY) == []


@pytest.mark.parametrize("path", [c for c in COMMANDS if len(c) == 2], ids=" ".join)
def test_a_command_built_alone_answers_as_in_the_whole_app(path: tuple[str, ...]) -> None:
    """What `swamp GROUP COMMAND` builds at start-up (that command alone, see
    cli.main) helps and refuses exactly as the whole app does."""
    from typer.testing import CliRunner

    from swamp.cli import _command_app

    alone = _command_app(list(path), 0)
    for args in ([*path, "--help"], [*path, "--no-such-option"]):
        got = CliRunner().invoke(alone, args, prog_name="swamp")
        expected = CliRunner().invoke(app, args, prog_name="swamp")
        assert (got.exit_code, got.stdout, got.stderr) == (
            expected.exit_code,
            expected.stdout,
            expected.stderr,
        )


def test_an_unknown_command_is_a_usage_error() -> None:
    result = _swamp("frobnicate")
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_main_builds_only_the_invoked_command_and_the_whole_app_otherwise() -> None:
    from swamp.cli import _command_app, _invoked_at

    assert _invoked_at(["queue", "list"]) == 0
    assert _invoked_at(["-C", "queue", "run", "list"]) == 2  # `queue` is -C's value
    assert _invoked_at(["--repo=x", "validate"]) == 1
    assert _invoked_at(["--repo", "x", "--help"]) is None
    assert _invoked_at(["frobnicate"]) is None  # the whole app says what exists
    assert _invoked_at([]) is None
    # A group's command is built alone; any other word, or none, gets the group.
    narrowed = typer.main.get_command(_command_app(["-C", "x", "queue", "list"], 2))
    assert list(narrowed.commands["queue"].commands) == ["list"]  # type: ignore[attr-defined]
    for argv in (["queue", "lst"], ["queue"], ["queue", "--help"]):
        whole = typer.main.get_command(_command_app(argv, 0))
        assert len(whole.commands["queue"].commands) == 5  # type: ignore[attr-defined]
    # One command's app answers as the whole app does.
    result = subprocess.run(
        [sys.executable, "-m", "swamp", "queue", "lst"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "No such command 'lst'" in result.stderr
