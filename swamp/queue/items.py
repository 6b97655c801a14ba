"""Queue items: identity, files under queue/ and done/, and their pins."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swamp.errors import SwampError
from swamp.fsutil import atomic_write
from swamp.loader import dump_yaml
from swamp.repo import Repository

QUEUE = "queue"
DONE = "done"
_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def identity(kind: str, target: str, inputs: Mapping[str, Any]) -> str:
    """The digest of kind + target + canonical inputs: one item per invocation."""
    canonical = json.dumps(
        {"kind": kind, "target": target, "inputs": inputs},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def slug(target: str, inputs: Mapping[str, Any]) -> str:
    """A readable file name part: the target and the first short input values."""
    words = [target.replace(".", "-")]
    for value in list(inputs.values())[:3]:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            words.append(str(value))
    text = re.sub(r"[^a-z0-9]+", "-", "-".join(words).lower()).strip("-")
    return text[:60].strip("-") or "item"


@dataclass
class Item:
    """One staged invocation, as stored in its file."""

    data: dict[str, Any]
    path: Path
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def target(self) -> str:
        if self.kind == "workflow":
            return str(self.data["workflow"])
        return f"{self.data['model']}.{self.data['method']}"

    @property
    def inputs(self) -> dict[str, Any]:
        inputs: dict[str, Any] = self.data.get("inputs") or {}
        return inputs

    @property
    def state(self) -> str:
        return str(self.data.get("state", "queued"))

    def save(self) -> None:
        atomic_write(self.path, dump_yaml(self.data))


def queue_dir(root: Path) -> Path:
    return root / QUEUE


def done_dir(root: Path) -> Path:
    return root / DONE


def _item_files(folder: Path) -> list[Path]:
    try:
        entries = list(os.scandir(folder))  # the type comes with the entry: no stat per file
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        Path(e.path) for e in entries if e.name.endswith((".yaml", ".yml")) and e.is_file()
    )


def read_item(path: Path, *, done: bool = False) -> Item | None:
    """A queue item file read quickly (no positions); None if it is not one.

    `swamp validate` reports what is wrong with a broken file; listing and
    executing skip it with a warning rather than stop the whole queue.
    """
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return parse_item(text, path, done=done)


def parse_item(text: str, path: Path, *, done: bool = False) -> Item | None:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - CSafeLoader
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    if data.get("kind") not in ("workflow", "method"):
        return None
    if data["kind"] == "workflow" and not isinstance(data.get("workflow"), str):
        return None
    if data["kind"] == "method" and not (
        isinstance(data.get("model"), str) and isinstance(data.get("method"), str)
    ):
        return None
    return Item(data, path, done=done)


def iter_items(root: Path, *, include_done: bool = False) -> Iterator[Item | Path]:
    """Items in queue/ (and done/), or the path of a file that is not an item.

    A file that disappears meanwhile (another runner finished it) is skipped.
    """
    folders = [(queue_dir(root), False)]
    if include_done:
        folders.append((done_dir(root), True))
    for folder, done in folders:
        for path in _item_files(folder):
            try:
                text = path.read_text("utf-8")
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError):
                yield path
                continue
            item = parse_item(text, path, done=done)
            yield item if item is not None else path


def in_review_order(entries: Iterable[Item | Path]) -> list[Item | Path]:
    """Items in the order they were requested (then by file name), so a list
    reads in the order of intent; finished items after them, unreadable
    files last."""

    def key(entry: Item | Path) -> tuple[int, str, str]:
        if isinstance(entry, Path):
            return (2, "", entry.name)
        return (int(entry.done), str(entry.data.get("requestedAt", "")), entry.path.name)

    return sorted(entries, key=key)


def find_item(root: Path, item_id: str) -> Item:
    for entry in iter_items(root):
        if isinstance(entry, Item) and item_id in (entry.id, entry.path.stem):
            return entry
    raise SwampError(f"no queued item {item_id!r} (see `swamp queue list`)")


def existing(root: Path, item_id: str) -> Item | None:
    """The queued item with this id. File names end with the id, so this
    reads one file, not the whole queue."""
    for path in sorted(queue_dir(root).glob(f"*{item_id}.y*ml")):
        item = read_item(path)
        if item is not None and item.id == item_id:
            return item
    return None


def pin(repo: Repository, kind: str, target: str) -> dict[str, str]:
    """Digests of every definition the invocation depends on."""
    if kind == "workflow":
        files = repo.workflow_files(target)
    else:
        files = [repo.model(target.partition(".")[0]).file]
    return {f: repo.digests[f] for f in files}


def stale_files(repo: Repository, item: Item) -> list[str]:
    """Pinned files whose content changed (or vanished) since the item was queued."""
    pinned: dict[str, str] = item.data.get("pin") or {}
    changed = [f for f, digest in pinned.items() if repo.digests.get(f) != digest]
    # A definition the target now depends on that was not reviewed with it.
    with contextlib.suppress(SwampError):
        changed += [f for f in pin(repo, item.kind, item.target) if f not in pinned]
    return sorted(set(changed))
