"""`swamp init`: scaffold a repository (swamp.yaml, the folders, an example
model, .gitignore and the GitHub Actions workflows that plan on pull requests
and execute on merge, on the windows' schedule and by hand)."""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from pathlib import Path

from swamp import __version__, output
from swamp.errors import SwampError
from swamp.fsutil import atomic_write
from swamp.repo import CONFIG_FILE

SWAMP_YAML = """\
# swamp repository settings.
version: 1
# Environment variables expressions may read as env.NAME.
env: []
# Environment variables expressions may read as secrets.NAME; always masked as ***.
secrets: []
defaults:
  concurrency: 4
# Execution windows for queued items (cron in the window's time zone). After
# changing them, run `swamp ci sync` so the execute workflow's schedule covers them.
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

EXAMPLE_MODEL = """\
# An example to start from: `swamp method run hello greet --input who=you`.
name: hello
type: command/shell
description: Says hello; replace it with a model of something you operate.
inputs:
  properties:
    who: {type: string, pattern: '^[A-Za-z][A-Za-z0-9 ]{0,39}$'}
  required: [who]
methods:
  greet:
    description: Print a greeting.
    arguments:
      run: echo "hello, ${{ inputs.who }}"
"""

FOLDERS = ("models", "workflows", "queue", "done")
WORKFLOWS = ("swamp-plan.yml", "swamp-execute.yml", "swamp-execute-sharded.yml")


def template(name: str, install: str = "'.'", branch: str = "main", schedule: str = "") -> str:
    """A file of swamp/templates/ with its placeholders filled in."""
    text = resources.files("swamp").joinpath("templates", name).read_text("utf-8")
    return (
        text.replace("{install}", install)
        .replace("{branch}", branch)
        .replace("{schedule}", schedule)
    )


def install_spec() -> str:
    """The pip requirement that installs the swamp running now, from how it was
    installed (PEP 610's direct_url.json); refused when it cannot be reproduced
    on GitHub's runners."""
    from importlib import metadata  # start-up time: only init reads it

    try:
        dist = metadata.distribution("swamp")
    except metadata.PackageNotFoundError:
        raise SwampError(_cannot("swamp is not installed as a package")) from None
    raw = dist.read_text("direct_url.json")
    if raw is None:  # installed from a package index: that version is there
        return shlex.quote(f"swamp=={dist.version}")
    info = json.loads(raw)
    url = str(info.get("url", ""))
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("commit_id") and not url.startswith("file:"):
        return shlex.quote(f"swamp @ {vcs['vcs']}+{url}@{vcs['commit_id']}")
    archive = info.get("archive_info")
    if isinstance(archive, dict) and url.startswith("https://"):
        digest = archive.get("hash")
        suffix = f"#{digest}" if digest else ""  # PEP 610: "sha256=…"
        return shlex.quote(f"swamp @ {url}{suffix}")
    how = "an editable install" if info.get("dir_info", {}).get("editable") else "a local path"
    raise SwampError(_cannot(f"this swamp is {how} ({url})"))


def _cannot(why: str) -> str:
    return (
        f"cannot tell what the GitHub workflows should pip-install: {why}; pass --install "
        f"REQUIREMENT, such as --install 'swamp @ git+https://github.com/ORG/swamp@COMMIT' "
        f"(swamp {__version__})"
    )


def scaffold(install: str, branch: str = "main", schedule: str | None = None) -> dict[str, str]:
    """Every file `swamp init` writes, by path relative to the repository."""
    # start-up time: a command loads only what it runs
    from swamp import ci
    from swamp.definitions import Window

    if schedule is None:
        nightly = Window("nightly", "15 2 * * *", 7200.0, "UTC")
        schedule = ci.schedule_block(ci.schedule_crons({"nightly": nightly}))
    files = {
        CONFIG_FILE: SWAMP_YAML,
        ".gitignore": template("gitignore"),
        "models/hello.yaml": EXAMPLE_MODEL,
    }
    for folder in FOLDERS:
        files[f"{folder}/.gitkeep"] = ""
    for name in WORKFLOWS:
        files[f".github/workflows/{name}"] = template(name, install, branch, schedule)
    files[".github/zizmor.yml"] = template("zizmor.yml")
    return files


def init(
    target: Path, *, install: str | None = None, branch: str = "main", example: bool = True
) -> int:
    target = target.resolve()
    if (target / CONFIG_FILE).exists():
        raise SwampError(
            f"{target / CONFIG_FILE} already exists; this is already a swamp repository"
        )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,200}", branch):
        raise SwampError(f"--branch {branch!r}: expected a branch name such as main")
    files = scaffold(shlex.quote(install) if install else install_spec(), branch)
    if not example:
        del files["models/hello.yaml"]
    written, kept = [], []
    for rel, text in files.items():
        path = target / rel
        if rel == ".gitignore" and path.exists():
            if _append_ignores(path, text):
                written.append(f"{rel} (appended swamp's entries)")
            else:
                kept.append(rel)
            continue
        if path.exists():
            kept.append(rel)
            continue
        if rel.endswith(".gitkeep") and path.parent.is_dir() and any(path.parent.iterdir()):
            continue
        if rel == "models/.gitkeep" and "models/hello.yaml" in files:
            continue
        atomic_write(path, text, fsync=False)
        written.append(rel)
    output.out(f"initialised a swamp repository in {target}")
    for rel in written:
        output.out(f"  wrote {rel}")
    for rel in kept:
        output.out(f"  kept {rel} (already there)")
    output.out(
        "next: `swamp validate`, then commit and push; for a protected branch see "
        "the README's GitHub Actions set-up"
    )
    return 0


def _append_ignores(path: Path, ours: str) -> bool:
    """Add swamp's lines to an existing .gitignore; False when all are there."""
    text = path.read_text("utf-8")
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in ours.splitlines() if line.strip() and line.strip() not in present]
    if not any(not line.startswith("#") for line in missing):
        return False
    sep = "" if not text or text.endswith("\n") else "\n"
    atomic_write(path, text + sep + "\n".join(missing) + "\n", fsync=False)
    return True
