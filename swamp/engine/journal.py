"""The append-only journal of a run: one JSON event per line.

Every state transition (a step started, a job's or the run's state, a
release) is written and fsynced before the engine acts on it, so a run
survives `kill -9` (and a power cut) at any moment. `write` without `sync`
(a step's finish) leaves the fsync to the next durable event, which comes
before anything acts on it. Concurrent fsyncs are grouped (see
Journal.sync). A torn last line (a write cut short) is ignored when reading and cut off
before the next append, which only the run's owner (the holder of its lock)
makes: reading a journal never changes it.

Any other damage (a corrupt or mis-shaped line before the last) is not
guessed around: it raises CorruptRun, one line naming the file and the way
out, and the run cannot be continued.

Events cross this module as typed values (events.py): `read_events` yields
them, `Journal.write` takes an event's class and its fields.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any, cast

from swamp import secrets
from swamp.engine import events
from swamp.engine.events import E, Event, EventClass, P
from swamp.errors import SwampError
from swamp.fsutil import fsync_dir

JOURNAL = "journal.jsonl"


_SECOND = [(0, "")]  # the last second formatted, and how (one tuple: thread-safe)


def now() -> str:
    """UTC to the millisecond, as 2026-01-31T12:00:00.123Z. Every event
    has one: the formatted second is reused while it lasts."""
    t = time.time()
    whole = int(t)
    second = _SECOND[0]
    if second[0] != whole:
        second = _SECOND[0] = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{second[1]}.{int((t - whole) * 1000):03d}Z"


class CorruptRun(SwampError):
    """A run's files are damaged in a way no crash of swamp leaves them."""

    def __init__(self, path: Path, line: int | None, what: str) -> None:
        run_id = path.parent.name
        where = f"{path}:{line}" if line else str(path)
        super().__init__(
            f"{where}: {what}; the run cannot be read or continued "
            f"(look at it, or remove it with `swamp run delete {run_id}`)"
        )


def read_events(path: Path, data: bytes | None = None) -> Iterator[tuple[int, Event]]:
    """(line number, event) of every complete event of the journal at `path`
    (its content, when the caller has read it); a torn last line is skipped
    (a crash mid-write leaves one), anything else damaged raises."""
    if data is None:
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
        except ValueError:  # not JSON, or not even UTF-8
            if i == len(lines) - 1:  # no newline after it: torn by a crash
                return
            raise CorruptRun(path, i + 1, "not a JSON event") from None
        if not (
            isinstance(event, dict)
            and isinstance(event.get("type"), str)
            and isinstance(event.get("seq"), int)
        ):
            raise CorruptRun(path, i + 1, "not an event (an object with a type and a seq)")
        try:
            yield i + 1, events.load(event)
        except events.BadEvent as e:
            raise CorruptRun(path, i + 1, str(e)) from None


class Journal:
    """Appends events to runs/<id>/journal.jsonl; fsyncs the durable ones."""

    def __init__(self, path: Path, *, seq: int = 0) -> None:
        """`seq`: the last event's (the caller has read the journal). The
        file is opened, and a torn line cut, at the first append: by the
        run's owner, under its lock."""
        self.path = path
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()  # one fsync at a time; see sync()
        self._fd = -1
        self._failed: OSError | None = None
        self.seq = seq
        self._synced = seq  # what was read is on disk already

    def _open(self) -> None:
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self._repair()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if created:
            fsync_dir(self.path.parent)

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

    def append(self, cls: EventClass[P, E], *args: P.args, **fields: P.kwargs) -> E:
        """Write one event and fsync it (and all before it)."""
        event = self.write(cls, *args, **fields)
        self.sync(event.seq)
        return event

    def write(self, cls: EventClass[P, E], *args: P.args, **fields: P.kwargs) -> E:
        """Write one event, `cls(seq, now, **fields)`, without waiting for the
        disk; `sync` makes it durable. mypy checks the fields against `cls`."""
        # Masked before it is written or applied: the state in memory is
        # exactly what a rebuild from the journal would give.
        values = {k: _masked(v) for k, v in fields.items()} if secrets.active() else fields
        make = cast("Callable[..., E]", cls)  # a string: no typing object built per event
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if self._fd < 0:
                self._open()
            self.seq += 1
            event = make(self.seq, now(), *args, **values)
            data = memoryview(events.to_line(event).encode("utf-8"))
            try:
                while data:  # a write may be short (a full disk raises instead)
                    data = data[os.write(self._fd, data) :]
            except OSError as e:  # a full disk: say which file
                # Nothing more is appended after a part of a line: the torn
                # line stays the last one, and is cut by the next owner.
                self._failed = OSError(e.errno, e.strerror, str(self.path))
                raise self._failed from e
            return event

    def sync(self, seq: int) -> None:
        """Return once every event up to `seq` is on disk.

        Group commit: one fsync covers every line written before it began, so
        parallel steps that finish together share it, and a caller whose
        line an fsync already covered does not wait for another."""
        with self._sync_lock:
            if self._synced >= seq:
                return
            with self._lock:
                upto, fd = self.seq, self._fd
            if fd < 0:
                return  # closed, and closing synced it
            try:
                os.fsync(fd)
            except OSError as e:
                self._failed = OSError(e.errno, e.strerror, str(self.path))
                raise self._failed from e
            self._synced = upto

    def close(self) -> None:
        with self._sync_lock, self._lock:
            if self._fd >= 0:
                if self._synced < self.seq:
                    os.fsync(self._fd)
                    self._synced = self.seq
                os.close(self._fd)
                self._fd = -1


def _masked(value: Any) -> Any:
    """`value` with its secrets masked, of the same type: a state stays its
    enum, a tuple a tuple."""
    if isinstance(value, Enum):
        return value
    if isinstance(value, tuple):
        return tuple(secrets.mask(list(value)))
    return secrets.mask(value)
