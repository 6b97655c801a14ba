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
from swamp.engine import control
from swamp.engine.journal import JOURNAL
from swamp.engine.state import load_state

POLL_SECONDS = 0.2
KEEPALIVE_POLLS = 75  # a comment line every ~15 s keeps proxies from closing the stream


def _frame(event: dict[str, object]) -> str:
    data = json.dumps(secrets.mask(event), separators=(",", ":"), default=str)
    return f"id: {event.get('seq', '')}\nevent: {event.get('type', 'message')}\ndata: {data}\n\n"


def _at_rest(folder: Path, pending: Callable[[], bool]) -> bool:
    """Nothing executes the run, nor will: its journal will not grow."""
    return not (pending() or control.is_active(folder))


async def stream(
    folder: Path, pending: Callable[[], bool], *, after: int = 0, follow: bool = True
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
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict) and event.get("seq", 0) > after:
                yield _frame(event)
        offset += end
        if at_rest or not follow:
            state = load_state(folder)
            yield _frame({"type": "end", "state": state.state, "seq": state.seq})
            return
        idle = idle + 1 if not end else 0
        if idle and idle % KEEPALIVE_POLLS == 0:
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)
