"""Every test runs with a git identity and configuration of its own, so that
nothing depends on (or touches) the user's ~/.gitconfig."""

from __future__ import annotations

import pytest


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
