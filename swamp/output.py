"""Everything swamp prints goes through here: masked, to the right stream."""

from __future__ import annotations

import json
import sys
from typing import Any

from swamp import secrets

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def colour_wanted(stream: Any = None) -> bool:
    """Colours on a terminal, unless NO_COLOR is set (no-color.org: present and
    not empty); FORCE_COLOR (present and not empty) asks for them anywhere."""
    import os

    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def paint(text: str, colour: str, stream: Any = None) -> str:
    """`text` in a colour when colours are wanted, else unchanged."""
    if not colour_wanted(stream):
        return text
    return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"


OUTCOME_COLOURS = {
    "succeeded": "green",
    "failed": "red",
    "stale": "red",
    "unapproved": "red",
    "refused": "red",
    "held": "yellow",
    "paused": "yellow",
    "stopped": "yellow",
    "waiting": "dim",
    "expired": "dim",
}


def out(text: str = "") -> None:
    sys.stdout.write(secrets.mask_text(text) + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(secrets.mask_text(text) + "\n")
    sys.stderr.flush()


def error(text: str) -> None:
    err(f"swamp: error: {text}")


def as_json(data: Any) -> None:
    data = secrets.mask(data)
    if isinstance(data, list) and data:
        # A list (of items, runs…) prints one element per line: as readable,
        # and the C encoder is used only without indentation (10,000 items).
        rows = ",\n".join("  " + json.dumps(row, default=str) for row in data)
        out("[\n" + rows + "\n]")
        return
    out(json.dumps(data, indent=2, sort_keys=False, default=str))
