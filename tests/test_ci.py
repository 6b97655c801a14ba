"""Schedules from windows (`swamp ci sync`), `swamp init`'s choices, and validate
reporting what GitHub would not run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from swamp import ci
from swamp.cli import app
from swamp.definitions import Window


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run(repo: Path | None, *args: str, code: int = 0) -> Result:
    """The CLI, in-process."""
    prefix = ["--repo", str(repo)] if repo is not None else []
    result = CliRunner().invoke(app, [*prefix, *args])
    got = Result(result.exit_code, result.stdout, result.stderr)
    assert got.code == code, got
    return got


# Half an hour: the hourly run for --at items (at minute 7) never falls in it.
FRIDAY_BERLIN = """
windows:
  friday:
    cron: "30 22 * * 5"
    duration: 30m
    timezone: Europe/Berlin
"""


def test_window_crons_cover_both_offsets_of_a_daylight_saving_zone() -> None:
    friday = Window("friday", "0 22 * * 5", 7200.0, "Europe/Berlin")
    crons = [c.expression for c in ci.window_crons(friday, datetime(2026, 1, 1, tzinfo=UTC))]
    # 22:00 in Berlin is 21:00 UTC in winter and 20:00 UTC in summer.
    assert crons == ["3 20 * * 5", "3 21 * * 5"]
    assert ci.uncovered(friday, crons) is None
    missed = ci.uncovered(friday, ["3 22 * * 5"], datetime(2026, 1, 1, tzinfo=UTC))
    assert missed == datetime(2026, 4, 3, 20, 0, tzinfo=UTC)  # summer time from March 29


def test_a_month_day_window_keeps_its_days() -> None:
    first = Window("first", "30 23 1 * *", 3600.0, "America/New_York")
    crons = [c.expression for c in ci.window_crons(first, datetime(2026, 1, 1, tzinfo=UTC))]
    # 23:30 in New York on the 1st is the 2nd in UTC (03:30 or 04:30).
    assert crons == ["33 3 2 4,5,6,7,8,9,10 *", "33 4 2 1,2,3,11,12 *"]


def test_validate_reports_a_window_the_schedule_never_covers_and_sync_fixes_it(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "ops"
    run(None, "init", str(repo), "--install", "swamp==0.1.0")
    run(repo, "validate")
    text = (repo / "swamp.yaml").read_text()
    (repo / "swamp.yaml").write_text(text.replace("windows:\n", FRIDAY_BERLIN.lstrip(), 1))
    bad = run(repo, "validate", "--json", code=1)
    (problem,) = json.loads(bad.stdout)
    assert problem["file"] == "swamp.yaml"
    assert problem["message"].startswith("windows.friday: opens at ")
    assert problem["message"].endswith(
        "but no schedule of .github/workflows/swamp-execute.yml runs before it closes; "
        "run `swamp ci sync`"
    )
    assert run(repo, "ci", "sync").stdout == (
        "wrote the schedule of .github/workflows/swamp-execute.yml\n"
    )
    workflow = (repo / ".github/workflows/swamp-execute.yml").read_text()
    assert '    - cron: "33 20 * * 5" # window friday (Europe/Berlin)\n' in workflow
    assert '    - cron: "33 21 * * 5" # window friday (Europe/Berlin)\n' in workflow
    assert '    - cron: "7 * * * *" # every 1h: items with --at / --not-before\n' in workflow
    run(repo, "validate")
    assert run(repo, "ci", "sync").stdout.startswith("unchanged:")
    # The granularity for --at is kept until asked otherwise.
    run(repo, "ci", "sync", "--every", "15m")
    run(repo, "ci", "sync")
    workflow = (repo / ".github/workflows/swamp-execute.yml").read_text()
    assert '    - cron: "*/15 * * * *" # every 15m: items with --at / --not-before\n' in workflow
    bad_every = run(repo, "ci", "sync", "--every", "5m", code=1)
    assert bad_every.stderr == "swamp: error: --every '5m': expected one of 15m, 30m, 1h, off\n"


def test_init_refuses_an_install_it_cannot_justify(tmp_path: Path) -> None:
    # The tests run from an editable install: nothing on GitHub's runners can
    # reproduce it, so init asks for --install instead of guessing.
    result = run(None, "init", str(tmp_path / "ops"), code=1)
    assert result.stderr.startswith(
        "swamp: error: cannot tell what the GitHub workflows should pip-install: this swamp "
        "is an editable install (file://"
    )
    assert "pass --install REQUIREMENT" in result.stderr
    assert not (tmp_path / "ops" / "swamp.yaml").exists()


@pytest.mark.parametrize(
    ("direct_url", "spec"),
    [
        (None, "swamp==0.1.0"),
        (
            {
                "url": "https://github.com/acme/swamp",
                "vcs_info": {"vcs": "git", "commit_id": "a" * 40, "requested_revision": "v1"},
            },
            f"'swamp @ git+https://github.com/acme/swamp@{'a' * 40}'",
        ),
        (
            {
                "url": "https://files.example.org/swamp-0.1.0.tar.gz",
                "archive_info": {"hash": "sha256=" + "b" * 64},
            },
            f"'swamp @ https://files.example.org/swamp-0.1.0.tar.gz#sha256={'b' * 64}'",
        ),
    ],
)
def test_init_derives_the_install_from_pep_610(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    direct_url: dict[str, object] | None,
    spec: str,
) -> None:
    # A real installed distribution's metadata folder, as pip leaves it.
    site = tmp_path / "site"
    info = site / "swamp-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: swamp\nVersion: 0.1.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    monkeypatch.syspath_prepend(str(site))
    from swamp.commands.init import install_spec

    assert install_spec() == spec


def test_init_appends_to_a_gitignore_and_takes_a_branch(tmp_path: Path) -> None:
    repo = tmp_path / "ops"
    repo.mkdir()
    (repo / ".gitignore").write_text("node_modules/")
    out = run(None, "init", str(repo), "--install", "swamp==0.1.0", "--branch", "prod").stdout
    assert "  wrote .gitignore (appended swamp's entries)\n" in out
    assert (repo / ".gitignore").read_text().startswith("node_modules/\n")
    assert ".swamp/\n" in (repo / ".gitignore").read_text()
    workflow = (repo / ".github/workflows/swamp-execute.yml").read_text()
    assert "    branches: [prod]\n" in workflow
    assert "run: python -m pip install swamp==0.1.0\n" in workflow
    assert (repo / "models" / "hello.yaml").is_file()
    assert run(repo, "method", "run", "hello", "greet", "--input", "who=you").code == 0
    bad = run(None, "init", str(tmp_path / "x"), "--install", "s", "--branch", "a b", code=1)
    assert bad.stderr == "swamp: error: --branch 'a b': expected a branch name such as main\n"


def test_sync_refuses_an_empty_schedule(tmp_path: Path) -> None:
    repo = tmp_path / "ops"
    run(None, "init", str(repo), "--install", "swamp==0.1.0")
    (repo / "swamp.yaml").write_text("version: 1\n")
    before = (repo / ".github/workflows/swamp-execute.yml").read_text()
    result = run(repo, "ci", "sync", "--every", "off", code=1)
    assert result.stderr.startswith("swamp: error: nothing to schedule: swamp.yaml has no windows")
    assert (repo / ".github/workflows/swamp-execute.yml").read_text() == before
