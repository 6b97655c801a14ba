"""The freeze: a file in the repository (so in git) that stops all execution.

While it exists nothing new starts, and a running run pauses at its next
step boundary. A runner with --push also watches the freeze on origin while
it runs (see queue/lease.py) and mirrors it into .swamp/ (this machine's own
state, never committed), so a freeze pushed from anywhere brakes it too.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import yaml

from swamp.fsutil import atomic_write
from swamp.loader import dump_yaml

FREEZE_FILE = "freeze.yaml"
# The freeze seen on origin by a running runner (removed when it stops).
OBSERVED = ".swamp/origin-freeze.yaml"


def files(root: Path) -> tuple[Path, Path]:
    """The files whose existence freezes the repository (the engine looks
    at them at every step boundary)."""
    return root / FREEZE_FILE, root / OBSERVED


def read(root: Path) -> dict[str, Any] | None:
    local = _read(root / FREEZE_FILE)
    return local if local is not None else _read(root / OBSERVED)


def observed(root: Path, data: bytes | None) -> None:
    """Mirror origin's freeze file (None: origin is not frozen)."""
    path = root / OBSERVED
    if data is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data.decode("utf-8", "replace"))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError):
        return {"reason": "freeze.yaml exists but cannot be read"}
    return data if isinstance(data, dict) else {}


def refusal(root: Path) -> str | None:
    """Why nothing may start now, or None when the repository is not frozen:
    the one check every path to execution makes."""
    info = read(root)
    return None if info is None else describe(info)


def describe(info: dict[str, Any]) -> str:
    who = info.get("frozenBy", "someone")
    when = info.get("frozenAt", "an unknown time")
    reason = info.get("reason") or "no reason given"
    return (
        f"the repository is frozen by {who} since {when}: {reason} (lift it with `swamp unfreeze`)"
    )


def freeze(root: Path, *, by: str, at: str, reason: str) -> None:
    atomic_write(root / FREEZE_FILE, dump_yaml({"frozenBy": by, "frozenAt": at, "reason": reason}))


def unfreeze(root: Path) -> bool:
    with contextlib.suppress(FileNotFoundError):
        (root / FREEZE_FILE).unlink()
        return True
    return False
