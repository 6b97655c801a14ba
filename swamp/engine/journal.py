"""The append-only journal of a run: one JSON event per line.

Every state transition (a step started or finished, a job's or the run's
state, a release) is written and fsynced before the engine moves on, so a
run survives `kill -9` (and a power cut) at any moment. `durable=False`
writes without the fsync; the next durable event makes it durable too. A
torn last line (a write cut short) is ignored when reading and cut off
before the next append.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swamp import secrets

JOURNAL = "journal.jsonl"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete event; a torn or corrupt last line is skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            if i >= len(lines) - 2:  # the last line, possibly torn by a crash
                return
            raise
        if isinstance(event, dict):
            yield event


class Journal:
    """Appends events to runs/<id>/journal.jsonl; fsyncs the durable ones."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._lock = threading.Lock()
        self._dirty = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.seq = sum(1 for _ in read_events(path))

    def _repair(self) -> None:
        """Cut a torn last line so the next event starts on a line of its own."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as f:
                f.truncate(keep)
                os.fsync(f.fileno())

    def append(self, type_: str, *, durable: bool = True, **fields: Any) -> dict[str, Any]:
        """Write one event; with `durable`, fsync it (and all before it)."""
        event: dict[str, Any]
        with self._lock:
            self.seq += 1
            # Masked before it is written or applied: the state in memory is
            # exactly what a rebuild from the journal would give.
            event = secrets.mask({"seq": self.seq, "at": now(), "type": type_, **fields})
            line = json.dumps(event, separators=(",", ":"), default=str) + "\n"
            data = memoryview(line.encode("utf-8"))
            while data:  # a write may be short (a full disk raises instead)
                data = data[os.write(self._fd, data) :]
            self._dirty = True
            if self.fsync and durable:
                os.fsync(self._fd)
                self._dirty = False
            return event

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                if self.fsync and self._dirty:
                    os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
