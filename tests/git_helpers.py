"""Real git repositories for GitOps tests: a bare origin and its clones."""

from __future__ import annotations

import subprocess
from pathlib import Path

from repo_helpers import make_repo


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def make_origin(tmp: Path, **repo_kwargs: object) -> Path:
    """A bare `origin` holding one commit: a swamp repository (see make_repo)."""
    origin = tmp / "origin.git"
    git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    seed = make_repo(tmp / "seed", **repo_kwargs)  # type: ignore[arg-type]
    (seed / ".gitignore").write_text(".swamp/\nmarks.log\n")
    git(seed, "init", "--quiet", "--initial-branch=main")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "a swamp repository")
    git(seed, "remote", "add", "origin", str(origin))
    git(seed, "push", "--quiet", "-u", "origin", "main")
    return origin


def clone(origin: Path, dest: Path) -> Path:
    git(origin.parent, "clone", "--quiet", str(origin), str(dest))
    return dest


def log(cwd: Path, ref: str = "HEAD", fmt: str = "%s") -> list[str]:
    return git(cwd, "log", f"--format={fmt}", ref).splitlines()


def message(cwd: Path, ref: str = "HEAD") -> str:
    return git(cwd, "log", "-1", "--format=%B", ref)


def status(cwd: Path) -> str:
    return git(cwd, "status", "--porcelain")
