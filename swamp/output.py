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
    out(json.dumps(secrets.mask(data), indent=2, sort_keys=False, default=str))
