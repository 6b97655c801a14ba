"""Small real repositories in temporary folders, and the real CLI to drive them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

SWAMP_YAML = """\
version: 1
env: [SWAMP_TEST_ENV]
secrets: [SWAMP_TEST_SECRET]
"""

# A command/shell model whose methods leave visible traces in the repository.
SHELL_MODEL = """\
name: sh
type: command/shell
inputs:
  properties:
    name: {type: string}
    seconds: {type: number}
    code: {type: integer}
    file: {type: string}
    value: {type: string}
methods:
  mark:
    description: append the input name to marks.log and report it
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        echo "marked=${{ inputs.name }}"
  sleep:
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        sleep ${{ inputs.seconds }}
  fail:
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        echo "failing on purpose" >&2
        exit ${{ inputs.code }}
  exists:
    description: succeed while a file exists
    arguments:
      run: test -e ${{ inputs.file }}
  absent:
    description: succeed while a file does not exist
    arguments:
      run: test ! -e ${{ inputs.file }}
  touch:
    arguments:
      run: touch ${{ inputs.file }}
  echo:
    arguments:
      run: echo "value=${{ inputs.value }}"
"""


# Workflows several test files use, acting through the `sh` model.
DEPLOY = """\
name: deploy
inputs:
  properties:
    env: {type: string, default: staging}
jobs:
  go:
    steps:
      - {name: ship, model: sh, method: mark, inputs: {name: "deploy-${{ inputs.env }}"}}
"""

# The second job is on hold.
GATED = """\
name: gated
jobs:
  build:
    steps:
      - {name: compile, model: sh, method: mark, inputs: {name: built}}
  ship:
    dependsOn: [build]
    hold: ship it?
    steps:
      - {name: upload, model: sh, method: mark, inputs: {name: shipped}}
"""

# Fails at `check` until a file FIXED exists.
BROKEN = """\
name: broken
jobs:
  go:
    steps:
      - {name: first, model: sh, method: mark, inputs: {name: first}}
      - {name: check, model: sh, method: exists, inputs: {file: FIXED}}
      - {name: last, model: sh, method: mark, inputs: {name: last}}
"""


def make_repo(
    root: Path,
    workflows: dict[str, str] | None = None,
    models: dict[str, str] | None = None,
    swamp_yaml: str = SWAMP_YAML,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "swamp.yaml").write_text(swamp_yaml)
    (root / "models").mkdir(exist_ok=True)
    (root / "workflows").mkdir(exist_ok=True)
    (root / "queue").mkdir(exist_ok=True)
    for name, text in {"sh": SHELL_MODEL, **(models or {})}.items():
        (root / "models" / f"{name}.yaml").write_text(textwrap.dedent(text))
    for name, text in (workflows or {}).items():
        (root / "workflows" / f"{name}.yaml").write_text(textwrap.dedent(text))
    return root


def swamp(
    repo: Path,
    *args: str,
    check: int | None = 0,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI; assert the exit code unless check is None."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "swamp", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    if check is not None:
        assert result.returncode == check, (
            f"exit {result.returncode}, expected {check}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def start_swamp(repo: Path, *args: str) -> subprocess.Popen[str]:
    """Start the real CLI in the background, in its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "swamp", "--repo", str(repo), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def marks(repo: Path) -> list[str]:
    path = repo / "marks.log"
    return path.read_text().split() if path.exists() else []


def run_ids(repo: Path) -> list[str]:
    runs = repo / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []


def events(repo: Path, run_id: str) -> list[dict[str, Any]]:
    path = repo / "runs" / run_id / "journal.jsonl"
    if not path.exists():  # the run's folder is made just before its journal
        return []
    out = []
    for line in path.read_text().splitlines():
        # A line being written as we read is incomplete; the next poll sees it.
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll until predicate() is true; fail the test (not hang) after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def show(repo: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(swamp(repo, "run", "show", run_id, "--json").stdout)
    return data
