"""Who owns a run, and the signals other processes send it.

The process executing a run holds an exclusive lock on .swamp/runs/<id>.lock
and records its pid there. `swamp run pause|stop` from another terminal write
.swamp/runs/<id>.control; the executing process polls it between steps and
while steps run (a stop terminates in-flight process groups). Both live under
.swamp/, the machine's own state, so that runs/ holds only what git records.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from pathlib import Path

from swamp.errors import SwampError
from swamp.fsutil import atomic_write

LOCK = ".lock"
CONTROL = ".control"
LOCAL = ".swamp"


def local_path(run_dir: Path, suffix: str) -> Path:
    """.swamp/runs/<id><suffix> for runs/<id>; nested runs keep theirs beside them."""
    if run_dir.parent.name == "runs":
        return run_dir.parent.parent / LOCAL / "runs" / f"{run_dir.name}{suffix}"
    return run_dir / suffix.lstrip(".")


class RunLock:
    """An exclusive, process-wide claim on a run; released on exit or crash."""

    def __init__(self, run_dir: Path) -> None:
        self.path = local_path(run_dir, LOCK)
        self.run_dir = run_dir
        self._fd = -1

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        self._fd = fd
        return True

    def acquire(self, run_id: str) -> None:
        if not self.try_acquire():
            raise SwampError(
                f"run {run_id} is being executed by {owner(self.run_dir) or 'another process'}"
                "; wait for it, or `swamp run pause|stop` it"
            )

    def release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def is_active(run_dir: Path) -> bool:
    """True while some process holds the run's lock."""
    path = local_path(run_dir, LOCK)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


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
    try:
        return local_path(run_dir, CONTROL).read_text().strip() or None
    except FileNotFoundError:
        return None


def clear(run_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        local_path(run_dir, CONTROL).unlink()
