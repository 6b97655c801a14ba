"""command/shell: run a command as an argv list (no shell) or a `run:` script
through `sh -e`, in its own process group, with a timeout that kills the
whole group.

Outputs: `exitCode`, `stdout`, `stderr`, and values the command prints for
later steps: a JSON object as the whole of stdout, or `key=value` lines.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from swamp.reaper import REAPER
from swamp.types.base import ExecutionContext, Outcome, TypeMethod

POLL_SECONDS = 0.05
# After SIGKILL, how long to wait for pipes held open outside the group.
GIVE_UP_SECONDS = 2.0
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
        given = {k: _word(v) for k, v in (arguments.get("env") or {}).items()}
        # run_process adds what it must to the environment: one copy per step.
        env = {**ctx.environment, **given, **ctx.shell_env} if given or ctx.shell_env else None
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
    env: Mapping[str, str] | None,
    stdin: str | None,
    timeout: float | None,
    ctx: ExecutionContext,
) -> Outcome:
    """Run argv in its own process group to its outcome (also used by mender/cli).
    The group is registered with the reaper, so it dies with swamp."""
    env = {**(ctx.environment if env is None else env), **REAPER.environment()}
    try:
        proc = _spawn(argv, cwd, env, stdin) or _popen(argv, cwd, env, stdin)
    except OSError as e:
        return Outcome(ok=False, error=f"cannot run {argv[0]!r}: {e.strerror}")
    REAPER.started(proc.pid)
    try:
        out, err, reason = _collect(proc, stdin, timeout, ctx)
    finally:
        # Whatever the command left running in its group dies with the step.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        REAPER.ended(proc.pid)
        returncode = proc.wait()  # reaped on every path (already, unless _collect raised)
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace")
    outputs: dict[str, Any] = {**parse_outputs(stdout)} if stdout else {}
    outputs.update({"exitCode": returncode, "stdout": stdout, "stderr": stderr})
    if reason:
        return Outcome(ok=False, outputs=outputs, error=reason, stdout=stdout, stderr=stderr)
    if returncode != 0:
        last = _last_line(stderr) or _last_line(stdout)
        error = f"command exited with code {returncode}" + (f": {last}" if last else "")
        return Outcome(ok=False, outputs=outputs, error=error, stdout=stdout, stderr=stderr)
    return Outcome(ok=True, outputs=outputs, stdout=stdout, stderr=stderr)


class _Child(Protocol):
    """What _collect uses of a started process (a Popen, or a _Spawned)."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdin(self) -> IO[bytes] | None: ...

    @property
    def stdout(self) -> IO[bytes] | None: ...

    @property
    def stderr(self) -> IO[bytes] | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def _popen(argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None) -> _Child:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, killed as a whole
    )


class _Spawned:
    """A process started by posix_spawn, with the parts of Popen we use."""

    def __init__(self, pid: int, stdin: int | None, stdout: int, stderr: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        # Closed by _collect and _feed, as Popen's are.
        # Buffered like Popen's: its write() writes all, in as many calls as it takes.
        self.stdin = None if stdin is None else os.fdopen(stdin, "wb")
        self.stdout = os.fdopen(stdout, "rb", buffering=0)
        self.stderr = os.fdopen(stderr, "rb", buffering=0)

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, 0 if end is None else os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            else:
                time.sleep(0.005)
        return self.returncode


def _spawn(argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None) -> _Child | None:
    """Start argv as Popen(start_new_session=True) would, through posix_spawn,
    or None where that cannot be done alike (then Popen does it).

    Why: Popen's Python prelude (handles, environment encoding, the PATH
    search list, closing its pipe ends) costs about as much per step as the
    fork and exec themselves, and a sequence of short steps pays it every
    time (benchmarks/engine.py). Where it is used, and why only there:
    - Linux (a pidfd waits for the exit, /proc lists the open descriptors);
    - the step runs in swamp's own working directory: Python's posix_spawn
      has no chdir action (python/cpython#114467), and changing swamp's
      directory would change it for every thread;
    - argv[0] found as Popen finds it: a path as given, relative to that
      same directory; a bare name on the PATH of the step's environment.
      posix_spawnp searches swamp's own PATH, so a step that sets another
      PATH has its command looked up here (and Popen says what is missing).
    Like Popen: signals swamp ignores (SIGPIPE, SIGXFSZ) are reset to their
    defaults, and descriptors swamp inherited as inheritable are closed; the
    others are close-on-exec (PEP 446). A failed exec raises OSError.
    """
    if not _FAST_SPAWN or str(cwd) != os.getcwd():  # noqa: PTH109 - a str, per step
        return None
    name = argv[0]
    spawner = os.posix_spawn
    if "/" not in name:
        path = env.get("PATH")
        if path and path == os.environ.get("PATH"):
            spawner = os.posix_spawnp
        else:
            found = shutil.which(name, path=path if path is not None else os.defpath)
            if found is None:
                return None  # Popen says what is missing, in its words
            name = found
    try:
        inherited = _inheritable_descriptors()
    except OSError:
        return None
    in_r, in_w = os.pipe() if stdin is not None else (-1, -1)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    fds = [fd for fd in (in_r, in_w, out_r, out_w, err_r, err_w) if fd >= 0]
    if min(fds) < 3:  # swamp's own 0, 1 or 2 is closed: Popen copes with that
        for fd in fds:
            os.close(fd)
        return None
    actions: list[tuple[Any, ...]] = [
        (os.POSIX_SPAWN_DUP2, in_r, 0)
        if in_r >= 0
        else (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, out_w, 1),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
        *((os.POSIX_SPAWN_CLOSE, fd) for fd in inherited),
    ]
    try:
        pid = spawner(
            name,
            argv,
            env,
            file_actions=actions,
            setsid=True,  # its own session and process group, killed as a whole
            setsigdef=_RESTORED_SIGNALS,
        )
    except BaseException as e:
        for fd in fds:
            os.close(fd)
        if isinstance(e, NotImplementedError):  # a libc without POSIX_SPAWN_SETSID
            _FAST_SPAWN.clear()
            return None
        raise
    for fd in (in_r, out_w, err_w):
        if fd >= 0:
            os.close(fd)
    return _Spawned(pid, in_w if in_w >= 0 else None, out_r, err_r)


def _inheritable_descriptors() -> list[int]:
    """Descriptors above 2 a child would inherit (Popen's close_fds closes them)."""
    found = []
    for entry in os.listdir("/proc/self/fd"):  # noqa: PTH208 - names only, per step
        fd = int(entry)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own, closed by now
                if os.get_inheritable(fd):
                    found.append(fd)
    return found


# Signals Python ignores at start-up that Popen(restore_signals=True) gives
# back their defaults in the child.
_RESTORED_SIGNALS = tuple(getattr(signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, n))
# Empty where the quick path cannot be taken (emptied if posix_spawn says so).
_FAST_SPAWN = (
    {"linux"}
    if sys.platform.startswith("linux")
    and hasattr(os, "posix_spawn")
    and hasattr(os, "pidfd_open")
    and Path("/proc/self/fd").is_dir()
    else set()
)


def _collect(
    proc: _Child, stdin: str | None, timeout: float | None, ctx: ExecutionContext
) -> tuple[bytes, bytes, str | None]:
    """Read the command's output until it closes it and exits; on a stop or
    at the deadline, SIGTERM its process group, then SIGKILL it after a grace
    period. Waiting is event-driven (poll also watches a pidfd for
    the exit where the system has them), so a quick command costs no more
    than its own run: Popen.communicate(timeout=…) sleep-polls for the exit.
    """
    assert proc.stdout is not None and proc.stderr is not None
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    chunks: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    # poll(2), not a selectors' epoll: nothing to create and close per step.
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    pidfd = _pidfd(proc.pid)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    if stdin is not None:
        threading.Thread(target=_feed, args=(proc, stdin.encode()), daemon=True).start()
    reason: str | None = None
    kill_at: float | None = None  # when a SIGTERM turns into a SIGKILL
    give_up: float | None = None  # after SIGKILL, stop waiting for the pipes
    open_fds = set(chunks)
    exited = False
    try:
        while open_fds or not exited:
            now = time.monotonic()
            wait = POLL_SECONDS
            for moment in (deadline if reason is None else None, kill_at, give_up):
                if moment is not None:
                    wait = max(0.0, min(wait, moment - now))
            if open_fds or pidfd is not None:
                for fd, _ in poller.poll(math.ceil(wait * 1000)):
                    if fd == pidfd:
                        poller.unregister(fd)
                        exited = True
                        continue
                    chunk = os.read(fd, 65536)
                    if chunk:
                        chunks[fd].append(chunk)
                    else:  # closed (a hang-up reads as the end)
                        poller.unregister(fd)
                        open_fds.discard(fd)
            if pidfd is None and not open_fds:
                # No pidfd: the pipes are closed, so the exit is imminent.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=wait)
                exited = proc.returncode is not None
            now = time.monotonic()
            if reason is None:
                if ctx.cancel.is_set():
                    reason = "stopped"
                elif deadline is not None and now >= deadline:
                    reason = f"timed out after {timeout:g}s"
                if reason is not None:
                    _signal_group(proc, signal.SIGTERM)
                    kill_at = now + ctx.grace
            if kill_at is not None and (now >= kill_at or ctx.kill_now.is_set()):
                _signal_group(proc, signal.SIGKILL)
                kill_at, give_up = None, now + GIVE_UP_SECONDS
            if give_up is not None and now >= give_up:
                break  # something outside the group holds the pipes open
    finally:
        if pidfd is not None:
            os.close(pidfd)
        proc.stdout.close()
        proc.stderr.close()
    if reason is not None:
        _signal_group(proc, signal.SIGKILL)
    proc.wait()
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd]), reason


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the process exits (Linux)."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd


def _feed(proc: _Child, data: bytes) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(OSError):
        proc.stdin.write(data)
    with contextlib.suppress(OSError):
        proc.stdin.close()


def _signal_group(proc: _Child, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


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
