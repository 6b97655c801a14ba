"""Writing files so that a crash never leaves half of one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the creation, rename or removal of an entry of `path` durable:
    without it a power cut may bring back a removed file or lose a new one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # the folder is gone, or the system cannot open one (Windows)
    try:
        # Some file systems refuse fsync on a folder; nothing better to do there.
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def remove(path: Path) -> None:
    """Unlink `path` (if it is there) durably."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def atomic_write(path: Path, text: str, *, fsync: bool = True) -> None:
    """Replace `path` with `text` in one step: write a sibling, then rename
    (with `fsync`, the data and the rename are durable when it returns)."""
    import tempfile  # start-up: listing writes nothing

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        Path(tmp).replace(path)
        if fsync:
            fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
