"""Exclusive locks on files (flock): per machine, dropped by the kernel when
their process exits or dies, so a crash never leaves one held.

Runs (engine.control.RunLock) and queue items (queue.status.ItemLock) lock
through this one class.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def try_acquire(self, note: bytes | None = None) -> bool:
        """Take the lock without waiting; False while another process holds it.
        `note` (who holds it) is written into the file for others to read."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        if note is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note, 0)
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def is_held(path: Path) -> bool:
    """True while some process holds the lock on `path`."""
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
