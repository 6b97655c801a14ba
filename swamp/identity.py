"""Who is acting: --by, else GITHUB_ACTOR, else git's user, else the login."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
from pathlib import Path


def who(by: str | None, root: Path | None = None) -> str:
    if by:
        return checked_text("--by", by)
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return actor
    try:
        # The name git would write as author: config or GIT_AUTHOR_NAME.
        result = subprocess.run(
            ["git", "var", "GIT_AUTHOR_IDENT"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        name = result.stdout.rsplit("<", 1)[0].strip() if result.returncode == 0 else ""
        if name:
            return name
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def runner_identity() -> str:
    """Which machine (and CI job) executes: for audit records."""
    parts = [socket.gethostname()]
    if os.environ.get("GITHUB_ACTIONS") == "true":
        parts.append(f"github-actions run {os.environ.get('GITHUB_RUN_ID', '?')}")
    return " ".join(parts)


def ci_run_url() -> str | None:
    server = os.environ.get("GITHUB_SERVER_URL")
    repo = os.environ.get("GITHUB_REPOSITORY")
    run_id = os.environ.get("GITHUB_RUN_ID")
    if server and repo and run_id:
        return f"{server}/{repo}/actions/runs/{run_id}"
    return None


MAX_TEXT = 500


def checked_text(option: str, text: str) -> str:
    """Free text a person gives that swamp stages in git (--by, --note): one
    line, no control characters, bounded, and no secret's value."""
    # start-up time: loaded only on this path
    from swamp import secrets
    from swamp.errors import UsageError
    from swamp.paths import shown

    if shown(text, limit=MAX_TEXT) != text:
        raise UsageError(
            f"{option} '{shown(text, limit=60)}': expected one line of at most {MAX_TEXT} "
            "characters, without control characters"
        )
    if secrets.mask_text(text) != text:
        raise UsageError(
            f"{option} holds a secret's value; it would be committed to git, so it is refused"
        )
    return text
