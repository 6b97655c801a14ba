"""command/shell: run a command as an argv list (no shell) or a `run:` script
through `sh -e`, in its own process group, with a timeout that kills the
whole group.

Outputs: `exitCode`, `stdout`, `stderr`, and values the command prints for
later steps: a JSON object as the whole of stdout, or `key=value` lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swamp.types.base import ExecutionContext, Outcome, TypeMethod

POLL_SECONDS = 0.05
KILL_GRACE_SECONDS = 2.0
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$")
# Names the type sets itself; a printed `stdout=…` line does not replace them.
_RESERVED = frozenset({"exitCode", "stdout", "stderr"})

ARGUMENTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "argv": {
            "description": "The command and its arguments, run without a shell.",
            "type": "array",
            "minItems": 1,
            "items": {"type": ["string", "number", "boolean"]},
        },
        "run": {
            "description": "A script run by `sh -e`; each ${{ }} expansion reaches it as data.",
            "type": "string",
            "minLength": 1,
        },
        "workingDir": {
            "description": "Folder to run in, relative to the repository (default: its root).",
            "type": "string",
        },
        "env": {
            "description": "Environment variables added to the command's environment.",
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "timeout": {
            "description": "Seconds before the command and every process it started are killed.",
            "type": "number",
            "exclusiveMinimum": 0,
        },
        "stdin": {"description": "Text given to the command on standard input.", "type": "string"},
    },
    "oneOf": [{"required": ["argv"]}, {"required": ["run"]}],
}


class ShellType:
    name = "command/shell"
    description = "Run a command (argv, no shell) or a script (run:, through sh -e)."

    def __init__(self) -> None:
        self.methods: Mapping[str, TypeMethod] = {
            "run": TypeMethod(
                "run",
                "Run the command; succeed when it exits 0.",
                ARGUMENTS,
                shell_fields=frozenset({"run"}),
            )
        }

    def execute(self, method: str, arguments: dict[str, Any], ctx: ExecutionContext) -> Outcome:
        if "argv" in arguments:
            argv = [_word(a) for a in arguments["argv"]]
        else:
            argv = ["sh", "-e", "-c", arguments["run"]]
        cwd = ctx.workdir
        if arguments.get("workingDir"):
            cwd = (ctx.workdir / arguments["workingDir"]).resolve()
            if not cwd.is_dir():
                return Outcome(ok=False, error=f"workingDir {arguments['workingDir']!r} not found")
        env = None
        if arguments.get("env") or ctx.shell_env:
            given = {k: _word(v) for k, v in (arguments.get("env") or {}).items()}
            env = {**os.environ, **given, **ctx.shell_env}
        timeout = arguments.get("timeout")
        if ctx.timeout is not None:
            timeout = ctx.timeout if timeout is None else min(timeout, ctx.timeout)
        return run_process(argv, cwd, env, arguments.get("stdin"), timeout, ctx)


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_process(
    argv: list[str],
    cwd: Path,
    env: dict[str, str] | None,
    stdin: str | None,
    timeout: float | None,
    ctx: ExecutionContext,
) -> Outcome:
    """Run argv in its own process group to its outcome (also used by mender/cli)."""
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as a whole
        )
    except OSError as e:
        return Outcome(ok=False, error=f"cannot run {argv[0]!r}: {e.strerror}")
    if ctx.on_process:
        ctx.on_process(proc.pid)
    deadline = None if timeout is None else time.monotonic() + timeout
    data = stdin.encode() if stdin is not None else None
    reason = None
    try:
        while True:
            wait = POLL_SECONDS
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                out, err = proc.communicate(data, timeout=wait)
                break
            except subprocess.TimeoutExpired:
                data = None  # communicate() keeps what it has already sent
            if ctx.cancel.is_set():
                reason = "stopped"
            elif deadline is not None and time.monotonic() >= deadline:
                reason = f"timed out after {timeout:g}s"
            if reason:
                out, err = _kill_group(proc)
                break
    finally:
        if ctx.on_process:
            ctx.on_process(None)
        # Whatever the command left running in its group dies with the step.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace")
    outputs: dict[str, Any] = {**parse_outputs(stdout)}
    outputs.update({"exitCode": proc.returncode, "stdout": stdout, "stderr": stderr})
    if reason:
        return Outcome(ok=False, outputs=outputs, error=reason, stdout=stdout, stderr=stderr)
    if proc.returncode != 0:
        last = _last_line(stderr) or _last_line(stdout)
        error = f"command exited with code {proc.returncode}" + (f": {last}" if last else "")
        return Outcome(ok=False, outputs=outputs, error=error, stdout=stdout, stderr=stderr)
    return Outcome(ok=True, outputs=outputs, stdout=stdout, stderr=stderr)


def _kill_group(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """SIGTERM the group, SIGKILL it after a grace period; collect the output."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def parse_outputs(stdout: str) -> dict[str, Any]:
    """A JSON object printed as the whole output, or `key=value` lines."""
    text = stdout.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in _RESERVED}
    found: dict[str, Any] = {}
    for line in stdout.splitlines():
        m = _KEY_VALUE.match(line)
        if m and m.group(1) not in _RESERVED:
            found[m.group(1)] = m.group(2)
    return found
