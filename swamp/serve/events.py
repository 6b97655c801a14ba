"""A run's events as Server-Sent Events, read from its journal.

The journal is the source of truth and is written by whichever process
executes the run, so the stream follows the file: it sends what is there,
then what is appended, and ends (with an `end` event) when the run has come
to rest and nothing executes it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from swamp import secrets
from swamp.engine import control, events
from swamp.engine.events import Event
from swamp.engine.journal import JOURNAL
from swamp.engine.state import RunState, load_state

POLL_SECONDS = 0.2
KEEPALIVE_POLLS = 75  # a comment line every ~15 s keeps proxies from closing the stream


def _frame(seq: int, kind: str, data: dict[str, object]) -> str:
    text = json.dumps(secrets.mask(data), separators=(",", ":"), default=str)
    return f"id: {seq}\nevent: {kind}\ndata: {text}\n\n"


def _event_frame(event: Event) -> str:
    """A journal event, as its line in the journal."""
    return _frame(event.seq, event.TYPE, events.to_dict(event))


def _end_frame(state: RunState) -> str:
    """Not a journal event: the stream's last frame, with the run's state."""
    return _frame(state.seq, "end", {"type": "end", "state": state.state, "seq": state.seq})


def _at_rest(folder: Path, pending: Callable[[], bool]) -> bool:
    """Nothing executes the run, nor will: its journal will not grow."""
    return not (pending() or control.is_active(folder))


async def stream(
    folder: Path, pending: Callable[[], bool], *, after: int = 0
) -> AsyncIterator[str]:
    path = folder / JOURNAL
    offset = 0
    idle = 0
    while True:
        at_rest = _at_rest(folder, pending)  # looked at before reading: no event is missed
        try:
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        end = chunk.rfind(b"\n") + 1  # only whole lines; a torn one is read next time
        for line in chunk[:end].splitlines():
            event = _event(line)
            if event is not None and event.seq > after:
                yield _event_frame(event)
        offset += end
        if at_rest:
            yield _end_frame(load_state(folder))
            return
        idle = idle + 1 if not end else 0
        if idle and idle % KEEPALIVE_POLLS == 0:
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)


def _event(line: bytes) -> Event | None:
    """The line's event; None for a line that is not one (the run's own
    page says why: load_state names the line)."""
    try:
        data = json.loads(line)
        if isinstance(data, dict) and isinstance(data.get("seq"), int):
            return events.load(data)
    except ValueError:  # not JSON, or not an event (events.BadEvent)
        pass
    return None
