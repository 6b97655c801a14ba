"""Conveniences users expect (issue 11, point 14): completion, a pre-commit
hook, editor schemas, colours that honour NO_COLOR, help without Python types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
import yaml
from repo_helpers import make_repo
from typer.testing import CliRunner

from swamp import output
from swamp.cli import app

PROJECT = Path(__file__).resolve().parent.parent


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in sorted(getattr(group, "commands", {}).items()):
        found += _commands(command, (*path, name))
    return found


def test_help_shows_no_python_types() -> None:
    runner = CliRunner()
    for path in _commands(typer.main.get_command(app)):
        text = runner.invoke(app, [*path, "--help"]).stdout
        assert not re.search(r"<(str|int|float|bool|Path|list\[[^\]]*\])>", text), path
    usage = runner.invoke(app, ["validate", "--help"]).stdout.splitlines()[0]
    assert usage == "Usage: swamp validate [OPTIONS] [PATH]..."


def test_shell_completion_is_offered() -> None:
    text = CliRunner().invoke(app, ["--help"]).stdout
    assert "--install-completion" in text
    assert "--show-completion" in text


def test_the_pre_commit_hook_runs_swamp_validate(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "swamp-validate"
    assert hook["entry"] == "swamp validate"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("models/db.yaml") and files.search("swamp.yaml")
    assert not files.search("README.md")
    repo = make_repo(tmp_path / "r")
    args = hook["entry"].split()[1:]
    assert CliRunner().invoke(app, ["--repo", str(repo), *args]).exit_code == 0


def test_definitions_take_a_schema_key_and_a_modeline(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    model = repo / "models" / "sh.yaml"
    model.write_text(
        "# yaml-language-server: $schema=../schemas/model.schema.json\n"
        "$schema: ../schemas/model.schema.json\n" + model.read_text()
    )
    (repo / "workflows" / "w.yaml").write_text(
        "$schema: urn:swamp:schema:workflow\nname: w\njobs:\n  a:\n"
        "    steps: [{name: s, model: sh, method: mark, inputs: {name: x}}]\n"
    )
    with (repo / "swamp.yaml").open("a") as f:
        f.write("$schema: urn:swamp:schema:swamp\n")
    result = CliRunner().invoke(app, ["--repo", str(repo), "validate"])
    assert result.exit_code == 0, result.stdout


@pytest.mark.parametrize(
    ("env", "tty", "coloured"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": ""}, True, True),  # no-color.org: an empty value does not count
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, True, False),
    ],
)
def test_colours_honour_no_color_and_force_color(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], tty: bool, coloured: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    class Stream:
        def isatty(self) -> bool:
            return tty

    painted = output.paint("failed", "red", Stream())
    assert painted == ("\x1b[31mfailed\x1b[0m" if coloured else "failed")
