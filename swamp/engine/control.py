"""Who owns a run, and the signals other processes send it.

The process executing a run holds an exclusive lock on .swamp/runs/<id>.lock
and records its pid there. `swamp run pause|stop` from another terminal write
.swamp/runs/<id>.control; the executing process polls it between steps and
while steps run (a stop terminates in-flight process groups). Both live under
.swamp/, the machine's own state, so that runs/ holds only what git records.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

from swamp.errors import SwampError
from swamp.fsutil import atomic_write
from swamp.locks import FileLock, is_held

LOCK = ".lock"
CONTROL = ".control"
LOCAL = ".swamp"


def local_path(run_dir: Path, suffix: str) -> Path:
    """.swamp/runs/<id><suffix> for runs/<id>; nested runs keep theirs beside them."""
    if run_dir.parent.name == "runs":
        return run_dir.parent.parent / LOCAL / "runs" / f"{run_dir.name}{suffix}"
    return run_dir / suffix.lstrip(".")


class RunLock(FileLock):
    """An exclusive, process-wide claim on a run; released on exit or crash."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(local_path(run_dir, LOCK))
        self.run_dir = run_dir

    def try_acquire(self, note: bytes | None = None) -> bool:
        who = {"pid": os.getpid(), "host": socket.gethostname()}
        return super().try_acquire(note if note is not None else json.dumps(who).encode())

    def acquire(self, run_id: str) -> None:
        if not self.try_acquire():
            raise SwampError(
                f"run {run_id} is being executed by {owner(self.run_dir) or 'another process'}"
                "; wait for it, or `swamp run pause|stop` it"
            )


def is_active(run_dir: Path) -> bool:
    """True while some process holds the run's lock."""
    return is_held(local_path(run_dir, LOCK))


def owner(run_dir: Path) -> str | None:
    try:
        info = json.loads(local_path(run_dir, LOCK).read_text() or "{}")
    except (OSError, ValueError):
        return None
    if not info:
        return None
    return f"pid {info.get('pid')} on {info.get('host')}"


def send(run_dir: Path, signal: str) -> None:
    atomic_write(local_path(run_dir, CONTROL), signal + "\n")


def read(run_dir: Path) -> str | None:
    return read_file(local_path(run_dir, CONTROL))


def read_file(path: Path) -> str | None:
    """The signal in a control file (`local_path(run_dir, CONTROL)`), if any."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def clear(run_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        local_path(run_dir, CONTROL).unlink()
