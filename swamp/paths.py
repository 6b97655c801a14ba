"""Names and paths that come from files: checked before they touch the disk.

A run id, an item id or a pinned path is data that anyone who can push may
write. Each must match a strict pattern, no path built from one may leave the
repository, and no symbolic link is followed on the way: what swamp reads and
writes is what git holds. Text from files is also made inert for messages.
"""

from __future__ import annotations

import re
from pathlib import Path

from swamp.errors import SwampError

# What `runs.new_run_id` makes: a stamp, a slug, a random suffix.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
_DEFINITION = re.compile(r"(models|workflows)/[A-Za-z0-9._/-]+\.(yaml|yml|json)")
# Long values are abridged in messages, so one field cannot flood a terminal or a log.
MAX_SHOWN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def is_run_id(value: object) -> bool:
    return isinstance(value, str) and bool(RUN_ID_PATTERN.fullmatch(value)) and ".." not in value


def is_definition_path(value: object) -> bool:
    return (
        isinstance(value, str)
        and bool(_DEFINITION.fullmatch(value))
        and not any(part in ("", ".", "..") for part in value.split("/"))
    )


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """`value` as text that is safe in one line on a terminal: control
    characters escaped, and abridged past `limit` characters."""
    text = value if isinstance(value, str) else repr(value)
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text)} characters)"
    return text


def one_line(value: str) -> str:
    """Free text as one line for a commit message or trailer: line breaks and
    other control characters cannot start a new line or a new trailer."""
    return shown(value, limit=10_000)


class OutsideRepository(SwampError):
    """A path that leaves the repository or goes through a symbolic link."""


def inside(root: Path, rel: str | Path) -> Path:
    """`root / rel`, refused if it leaves `root` or any part of it (the
    folders on the way, and the last part if present) is a symbolic link."""
    rel_path = Path(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts:
        raise OutsideRepository(f"{shown(str(rel))!r} leaves the repository")
    check_no_symlinks(root, rel_path)
    return root / rel_path


def check_no_symlinks(root: Path, rel: Path) -> None:
    here = root
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            shown_rel = here.relative_to(root).as_posix()
            raise OutsideRepository(
                f"{shown(shown_rel)} is a symbolic link; swamp never follows one"
            )
