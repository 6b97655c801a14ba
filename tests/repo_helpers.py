"""Small real repositories in temporary folders, and the real CLI to drive them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
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

# `waiter.wait-for-go` leaves a mark, then waits until the file GO exists: a
# step that is in flight for as long as a test needs.
WAITER = """\
name: waiter
type: command/shell
methods:
  wait-for-go:
    description: leave a mark, then wait until the file GO exists
    inputs:
      properties: {name: {type: string}}
      required: [name]
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        while [ ! -e GO ]; do sleep 0.05; done
"""
# The same, safe to run again when a runner died while it waited.
IDEMPOTENT_WAITER = WAITER.replace("  wait-for-go:\n", "  wait-for-go:\n    idempotent: true\n")

# a, then b waiting for GO, then c.
SLOW = """\
name: slow
jobs:
  j:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
      - {name: b, model: waiter, method: wait-for-go, inputs: {name: b}}
      - {name: c, model: sh, method: mark, inputs: {name: c}}
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


# One in-process call at a time: it swaps process-wide state (streams, the
# environment, the working directory, signal handlers, the secrets registry).
_INVOKE_LOCK = threading.Lock()


def invoke(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in this process, as `python -m swamp ARGS` would run it.

    The result has the shape of a subprocess's: returncode, stdout, stderr.
    `env` is laid over os.environ and `unset` names variables removed for the
    call; both are restored afterwards, as are the working directory, the
    signal handlers and the secrets registry (masking is process-wide).
    """
    from typer.testing import CliRunner

    from swamp import secrets
    from swamp.cli import app
    from swamp.types import registry

    overlay: dict[str, str | None] = dict.fromkeys(unset)
    overlay.update(env or {})
    runner = CliRunner()
    with _INVOKE_LOCK:
        old_cwd = Path.cwd()
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        secrets.clear()
        # Model types are found and built once per process: a fresh start each call.
        registry.get_type.cache_clear()
        registry._plugins.cache_clear()
        try:
            if cwd is not None:
                os.chdir(cwd)
            # catch_exceptions=False: a bug escaping the CLI's own boundary
            # fails the test with its traceback instead of becoming exit 1.
            result = runner.invoke(
                app,
                list(args),
                input=stdin,
                env=overlay,
                prog_name="python -m swamp",
                catch_exceptions=False,
            )
        finally:
            os.chdir(old_cwd)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            secrets.clear()
    return subprocess.CompletedProcess(
        ["swamp", *args], result.exit_code, result.stdout, result.stderr
    )


def swamp(
    repo: Path,
    *args: str,
    check: int | None = 0,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI (in-process); assert the exit code unless check is None.

    `timeout` is kept for callers' sake: an in-process call cannot be
    abandoned, so a hang shows as pytest's own timeout instead.
    """
    del timeout
    result = invoke("--repo", str(repo), *args, env=env)
    if check is not None:
        assert result.returncode == check, (
            f"exit {result.returncode}, expected {check}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def swamp_process(
    repo: Path, *args: str, check: int | None = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a real process: for what start-up decides (installed plugins)."""
    result = subprocess.run(
        [sys.executable, "-m", "swamp", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    if check is not None:
        assert result.returncode == check, (
            f"exit {result.returncode}, expected {check}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def imports_of(*args: str) -> tuple[set[str], str]:
    """The modules `python -m swamp ARGS` imports (as -X importtime reports
    them), and what it printed. A process: start-up is what is measured."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "swamp", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Lines of -X importtime: "import time: self | cumulative | [indent]name".
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return imported, result.stdout


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


def wait_for(
    predicate: Any, timeout: float = 30.0, what: str | Callable[[], str] = "condition"
) -> None:
    """Poll until predicate() is true; fail the test (not hang) after timeout.
    `what` may be a function, asked at the timeout (to say what was seen last)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def show(repo: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(swamp(repo, "run", "show", run_id, "--json").stdout)
    return data
