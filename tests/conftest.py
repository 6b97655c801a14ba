"""Every test runs with a git identity and configuration of its own, so that
nothing depends on (or touches) the user's ~/.gitconfig."""

from __future__ import annotations

import compileall
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
import typer.testing
from github_helpers import FakeGitHub

# typer's CliRunner builds the click command of the whole app at every invoke
# (inspect.signature and get_type_hints of each command: 55 ms, 85 ms under
# coverage), and the suite calls swamp in-process a few thousand times. It is
# built once per app instead; no test adds a command to an app it invoked.
# (Checked, so that a typer that renames the hook fails here, not slowly.)
assert hasattr(typer.testing, "_get_command"), "typer.testing no longer has _get_command"
typer.testing._get_command = functools.cache(typer.main.get_command)


def pytest_configure(config: pytest.Config) -> None:
    # Compile swamp's bytecode once, as `pip install` of a wheel does: the
    # tests start swamp as a process a few hundred times (kill -9, signals,
    # racing runners, Actions steps), and where PYTHONDONTWRITEBYTECODE is set
    # (as in some CI images) each start would compile it again. The
    # controller does it, before xdist's workers start.
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(Path(__file__).parent.parent / "swamp", quiet=1)
    # The coverage gate (fail_under in pyproject.toml) is for the whole suite;
    # a run of a few tests still reports coverage but is not held to it.
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS and config.pluginmanager.hasplugin(
        "_cov"
    ):
        config.pluginmanager.getplugin("_cov").options.cov_fail_under = 0


@pytest.fixture(autouse=True)
def _isolated_git(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("home")
    config = home / ".gitconfig"
    config.write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test Engineer")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "engineer@example.com")
    for name in (
        "GITHUB_ACTOR",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_BASE_REF",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
        "GITHUB_SERVER_URL",
        "SWAMP_REPO",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """A GitHub API on 127.0.0.1 (github_helpers.FakeGitHub), closed afterwards."""
    fake = FakeGitHub()
    yield fake
    fake.close()
