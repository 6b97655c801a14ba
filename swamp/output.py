"""Everything swamp prints goes through here: masked, to the right stream."""

from __future__ import annotations

import json
import sys
from typing import Any

from swamp import secrets


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
