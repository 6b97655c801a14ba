"""`swamp init`: scaffold a repository (swamp.yaml, the folders, .gitignore and
the GitHub Actions workflows that plan on pull requests and execute on merge)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from swamp import __version__, output
from swamp.errors import SwampError
from swamp.fsutil import atomic_write
from swamp.repo import CONFIG_FILE

SWAMP_YAML = """\
# swamp repository settings (schema: swamp.schema.json in swamp's schemas/).
version: 1
# Environment variables expressions may read as env.NAME.
env: []
# Environment variables expressions may read as secrets.NAME; always masked as ***.
secrets: []
defaults:
  concurrency: 4
# Execution windows for queued items (cron in the window's time zone).
windows:
  nightly:
    cron: "15 2 * * *"
    duration: 2h
    timezone: UTC
# Four-eyes check before an item runs (needs GITHUB_TOKEN in the runner):
# approval:
#   required: 1
#   forbidSelfApproval: true
"""

FOLDERS = ("models", "workflows", "queue", "done")
WORKFLOWS = ("swamp-plan.yml", "swamp-execute.yml", "swamp-execute-sharded.yml")


def template(name: str, install: str | None = None) -> str:
    """A file of swamp/templates/, with the pip requirement that installs swamp."""
    text = resources.files("swamp").joinpath("templates", name).read_text("utf-8")
    return text.replace("{install}", install or f"'swamp=={__version__}'")


def scaffold(install: str | None = None) -> dict[str, str]:
    """Every file `swamp init` writes, by path relative to the repository."""
    files = {CONFIG_FILE: SWAMP_YAML, ".gitignore": template("gitignore")}
    for folder in FOLDERS:
        files[f"{folder}/.gitkeep"] = ""
    for name in WORKFLOWS:
        files[f".github/workflows/{name}"] = template(name, install)
    files[".github/zizmor.yml"] = template("zizmor.yml")
    return files


def init(target: Path, *, install: str | None = None) -> int:
    target = target.resolve()
    if (target / CONFIG_FILE).exists():
        raise SwampError(
            f"{target / CONFIG_FILE} already exists; this is already a swamp repository"
        )
    written, kept = [], []
    for rel, text in scaffold(install).items():
        path = target / rel
        if path.exists():
            kept.append(rel)
            continue
        if rel.endswith(".gitkeep") and path.parent.is_dir() and any(path.parent.iterdir()):
            continue
        atomic_write(path, text, fsync=False)
        written.append(rel)
    output.out(f"initialised a swamp repository in {target}")
    for rel in written:
        output.out(f"  wrote {rel}")
    for rel in kept:
        output.out(f"  kept {rel} (already there)")
    output.out("next: add a model under models/, then `swamp validate`; commit and push")
    return 0
