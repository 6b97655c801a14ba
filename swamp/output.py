"""Everything swamp prints goes through here: masked, to the right stream."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from swamp import secrets

# Control characters from files or commands' output are shown escaped, so
# that no text can move the cursor, clear the screen or retitle the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def inert(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


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
