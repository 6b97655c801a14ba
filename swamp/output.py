"""Everything swamp prints goes through here: masked, to the right stream."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from swamp import secrets

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def colour_wanted(stream: Any = None) -> bool:
    """Colours on a terminal, unless NO_COLOR is set (no-color.org: present and
    not empty); FORCE_COLOR (present and not empty) asks for them anywhere."""
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


# Control characters from files or commands' output are shown escaped, so
# that no text can move the cursor, clear the screen or retitle the terminal.
# Colours (`paint`, select graphic rendition only) are the one sequence kept.
_CONTROL = re.compile(r"\x1b\[[0-9;]*m|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    text = m.group()
    return text if len(text) > 1 else text.encode("unicode_escape").decode("ascii")


def inert(text: str) -> str:
    return _CONTROL.sub(_escape, text)


def out(text: str = "") -> None:
    sys.stdout.write(inert(secrets.mask_text(text)) + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(inert(secrets.mask_text(text)) + "\n")
    sys.stderr.flush()


# An error quoting a long value is abridged: one readable line, whatever was given.
MAX_ERROR = 600


def error(text: str) -> None:
    if len(text) > MAX_ERROR and "\n" not in text:
        text = f"{text[:MAX_ERROR]}… ({len(text)} characters)"
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
