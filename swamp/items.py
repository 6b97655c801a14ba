"""Queue items: identity, files under queue/ and done/, and their pins.

Every item file is read through the hardened loader (duplicate keys, alias
bombs, size and depth limits) and checked field by field before anything
uses it: code after `parse_item` handles an `Item` whose request is a frozen
value and whose state is an `ItemState`. A file that is not a valid item
becomes a `BrokenItem` carrying one problem (file:line: what was expected),
so that listing and executing skip it and go on with the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from swamp import paths
from swamp.errors import Problem, SwampError
from swamp.fsutil import atomic_write
from swamp.loader import Document, LoadError, dump_yaml, load_yaml_text, read_text
from swamp.repo import Pinned
from swamp.timing import parse_iso

QUEUE = "queue"
DONE = "done"

# An item's id is the first 12 hex digits of a sha256: nothing else can name
# a file, a lock or a glob pattern.
ID_PATTERN = re.compile(r"[0-9a-f]{12}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class ItemState(StrEnum):
    """The state stored in an item's file (what the runner last wrote)."""

    QUEUED = "queued"
    RUNNING = "running"
    HELD = "held"
    FAILED = "failed"
    PAUSED = "paused"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"  # by a signal: resumed only on purpose
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"


# The fields a reviewer approves: they make the request and its digest.
REQUEST_FIELDS = (
    "kind",
    "workflow",
    "model",
    "method",
    "inputs",
    "note",
    "notBefore",
    "notAfter",
    "window",
    "requestedBy",
    "requestedAt",
    "pin",
)
# Fields only swamp's runners write. `approval` is a legacy field: read, never trusted.
RUNNER_FIELDS = (
    "state",
    "run",
    "heldJob",
    "failedStep",
    "claim",
    "release",
    "approval",
    "result",
)
_KNOWN = frozenset({"id", *REQUEST_FIELDS, *RUNNER_FIELDS})
_STRING_FIELDS = (
    "note",
    "notBefore",
    "notAfter",
    "window",
    "requestedBy",
    "requestedAt",
    "run",
    "heldJob",
    "failedStep",
)


def canonical(value: Any) -> str:
    """One spelling of a loaded value: what digests are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def identity(kind: str, target: str, inputs: Mapping[str, Any]) -> str:
    """The digest of kind + target + canonical inputs: one item per invocation."""
    text = canonical({"kind": kind, "target": target, "inputs": inputs})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def slug(target: str, inputs: Mapping[str, Any]) -> str:
    """A readable file name part: the target and the first short input values."""
    words = [target.replace(".", "-")]
    for value in list(inputs.values())[:3]:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            words.append(str(value))
    text = re.sub(r"[^a-z0-9]+", "-", "-".join(words).lower()).strip("-")
    return text[:60].strip("-") or "item"


@dataclass(frozen=True)
class Request:
    """What was reviewed: the request fields of an item, as loaded."""

    kind: str
    target: str
    inputs: Mapping[str, Any]
    fields: Mapping[str, Any]  # every request field present, by its file name
    # The optional texts, checked as non-empty strings (the times as ISO 8601).
    note: str | None = None
    requested_by: str | None = None
    requested_at: str | None = None
    not_before: str | None = None
    not_after: str | None = None
    window: str | None = None

    @property
    def pin(self) -> Mapping[str, str]:
        pin: Mapping[str, str] = self.fields.get("pin") or {}
        return pin

    def digest(self) -> str:
        """The digest of every request field: what a run records and resumes against."""
        text = canonical(dict(self.fields))
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Item:
    """One staged invocation: its checked request (frozen), and what runners
    wrote of it, read and changed through the typed members below. The file's
    fields themselves are private: nothing outside this module writes a field
    the loader would not check the same way."""

    _fields: dict[str, Any]
    path: Path
    done: bool = False
    request: Request = field(default_factory=lambda: Request("", "", {}, {}))

    @property
    def id(self) -> str:
        return str(self._fields["id"])

    @property
    def kind(self) -> str:
        return self.request.kind

    @property
    def target(self) -> str:
        return self.request.target

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self.request.inputs)

    @property
    def state(self) -> ItemState:
        return ItemState(self._fields.get("state", ItemState.QUEUED))

    # -- what runners wrote (the loader checked each one's type) ---------------

    @property
    def run(self) -> str | None:
        """The item's run: the one it started, or the one it continues."""
        return self._fields.get("run")

    @property
    def held_job(self) -> str | None:
        return self._fields.get("heldJob")

    @property
    def failed_step(self) -> str | None:
        return self._fields.get("failedStep")

    @property
    def claim(self) -> Mapping[str, str]:
        """Who claimed it, where and when (empty: never claimed)."""
        return MappingProxyType(self._fields.get("claim") or {})

    @property
    def staged_release(self) -> Mapping[str, str] | None:
        """A release of its held job staged for the next execute (`job`, `by`, `at`)."""
        release = self._fields.get("release")
        return None if release is None else MappingProxyType(release)

    @property
    def result(self) -> Mapping[str, Any] | None:
        """A done record's result (what ran, who approved and executed it)."""
        result = self._fields.get("result")
        return None if result is None else MappingProxyType(result)

    def fields(self) -> dict[str, Any]:
        """A copy of the file's fields (to print, or to give back with `restore`)."""
        return dict(self._fields)

    # -- changes (saved by `save`) ---------------------------------------------

    def restore(self, fields: Mapping[str, Any]) -> None:
        """Put back fields taken with `fields()` (a claim undone)."""
        self._fields = dict(fields)

    def set_state(self, state: ItemState) -> None:
        self._fields["state"] = state.value  # a plain string: what the file holds

    def mark_claimed(self, run_id: str, claim: Mapping[str, str]) -> None:
        """Running, as `run_id`, claimed as `claim` says (by, host, checkout, at, run)."""
        self.set_state(ItemState.RUNNING)
        self._fields["run"] = run_id
        self._fields["claim"] = dict(claim)

    def set_claim_commit(self, commit: str) -> None:
        """The commit that pushed the claim (other runners see it there)."""
        self._fields.setdefault("claim", {})["commit"] = commit

    def stage_release(self, job: str, by: str, at: str) -> None:
        self._fields["release"] = {"job": job, "by": by, "at": at}

    def take_release(self) -> Mapping[str, str] | None:
        """The staged release, removed: the run about to continue carries it out."""
        release = self._fields.pop("release", None)
        return None if release is None else MappingProxyType(release)

    def record_run(
        self, run_id: str, state: ItemState, *, held_job: str | None, failed_step: str | None
    ) -> None:
        """Where the item's run stands, as it ended without succeeding."""
        self._fields["run"] = run_id
        self._fields.pop("heldJob", None)
        self._fields.pop("failedStep", None)
        self.set_state(state)
        if held_job is not None:
            self._fields["heldJob"] = held_job
        if failed_step is not None:
            self._fields["failedStep"] = failed_step

    def record_success(self, run_id: str, result: Mapping[str, Any]) -> None:
        """Succeeded: its result replaces what was in progress (the claim, the
        legacy approval, which is never trusted: the audit is in `result`)."""
        self._fields["run"] = run_id
        for name in ("heldJob", "failedStep", "claim", "approval"):
            self._fields.pop(name, None)
        self._fields["result"] = dict(result)
        self.set_state(ItemState.SUCCEEDED)

    def save(self) -> None:
        if self.path.is_symlink() or self.path.parent.is_symlink():
            raise paths.OutsideRepository(
                f"{self.path.parent.name}/{self.path.name} is reached through a symbolic link; "
                "swamp never writes through one"
            )
        atomic_write(self.path, dump_yaml(self._fields))


@dataclass(frozen=True)
class BrokenItem:
    """A file under queue/ or done/ that is not a valid item, and why (one line)."""

    path: Path
    problem: Problem


def queue_dir(root: Path) -> Path:
    return root / QUEUE


def done_dir(root: Path) -> Path:
    return root / DONE


def _item_files(root: Path, folder: Path) -> Iterator[Path | BrokenItem]:
    """The .yaml/.yml files of a folder; a symlink (of the folder or a file)
    is a BrokenItem: its content was never reviewed in the repository."""
    rel = folder.name
    if folder.is_symlink():
        yield BrokenItem(folder, Problem(rel, 1, 1, "is a symbolic link; swamp never follows one"))
        return
    try:
        entries = list(os.scandir(folder))  # the type comes with the entry: no stat per file
    except (FileNotFoundError, NotADirectoryError):
        return
    for e in sorted(entries, key=lambda e: e.name):
        if not e.name.endswith((".yaml", ".yml")):
            continue
        if e.is_symlink():
            yield BrokenItem(
                Path(e.path),
                Problem(f"{rel}/{e.name}", 1, 1, "is a symbolic link; swamp never follows one"),
            )
        elif e.is_file(follow_symlinks=False):
            yield Path(e.path)


def read_item(path: Path, *, done: bool = False) -> Item | None:
    """A queue item file, or None if it is not a valid one (see `load_item`)."""
    loaded = load_item(path, done=done)
    return loaded if isinstance(loaded, Item) else None


def load_item(path: Path, *, done: bool = False) -> Item | BrokenItem:
    """A queue item file through the loader, or why it is not one."""
    display = f"{path.parent.name}/{path.name}"
    if path.is_symlink() or path.parent.is_symlink():
        return BrokenItem(
            path, Problem(display, 1, 1, "is a symbolic link; swamp never follows one")
        )
    try:
        text = read_text(path, display)
    except LoadError as e:
        return BrokenItem(path, e.problem)
    return parse_item(text, path, done=done)


def parse_item(text: str, path: Path, *, done: bool = False) -> Item | BrokenItem:
    """Check every field of an item's text; the first problem makes it broken."""
    display = f"{path.parent.name}/{path.name}"
    try:
        # Positions are needed only to say where a problem is: a queue of
        # thousands of valid items is read without them.
        doc = load_yaml_text(text, display, positions=False)
    except LoadError as e:
        return BrokenItem(path, e.problem)
    try:
        request = _check(doc, path, done)
    except _Bad as e:
        doc = load_yaml_text(text, display)
        return BrokenItem(path, doc.problem(e.where, e.message, key=e.key))
    return Item(doc.data, path, done=done, request=request)


class _Bad(Exception):
    def __init__(self, where: tuple[str, ...], message: str, *, key: bool = False) -> None:
        self.where, self.message, self.key = where, message, key


def _string(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None and not required:
        if name in data:
            raise _Bad((name,), f"{name}: expected a string, found null")
        return None
    if not isinstance(value, str) or not value:
        raise _Bad((name,), f"{name}: expected a non-empty string, found {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "an empty string" if value == "" else "a string"


def _check(doc: Document, path: Path, done: bool) -> Request:
    data = doc.data
    if not isinstance(data, dict):
        raise _Bad((), f"expected a queue item (a mapping), found {_kind(data)}")
    for key in data:
        if key not in _KNOWN:
            raise _Bad((key,), f"unknown field {paths.shown(key)!r}", key=True)
    item_id = _string(data, "id", required=True)
    assert item_id is not None
    if not ID_PATTERN.fullmatch(item_id):
        raise _Bad(("id",), f"id {paths.shown(item_id)!r}: expected 12 lowercase hex digits")
    stem = path.stem
    if not (stem == item_id or stem.endswith("-" + item_id) or (done and f"-{item_id}-" in stem)):
        raise _Bad(("id",), f"the file name must end with its id ({item_id}.yaml)")
    kind = data.get("kind")
    if kind == "workflow":
        target = _string(data, "workflow", required=True)
        for other in ("model", "method"):
            if other in data:
                raise _Bad((other,), f"{other}: a workflow item has no {other}", key=True)
    elif kind == "method":
        model = _string(data, "model", required=True)
        method = _string(data, "method", required=True)
        if "workflow" in data:
            raise _Bad(("workflow",), "workflow: a method item has no workflow", key=True)
        target = f"{model}.{method}"
    else:
        raise _Bad(("kind",), "kind: expected workflow or method")
    assert target is not None
    if any(c in target for c in "\n\r\t\x00/\\") or ".." in target.replace(".", "", 1):
        raise _Bad(("workflow" if kind == "workflow" else "model",), "target: not a valid name")
    inputs = data.get("inputs", {})
    if not isinstance(inputs, dict):
        raise _Bad(("inputs",), f"inputs: expected a mapping, found {_kind(inputs)}")
    for name in _STRING_FIELDS:
        _string(data, name)
    for name in ("notBefore", "notAfter", "requestedAt"):
        if name in data:
            try:
                parse_iso(data[name])
            except (ValueError, OverflowError):
                raise _Bad(
                    (name,), f"{name}: expected an ISO 8601 time such as 2026-11-24T02:00:00Z"
                ) from None
    pin = data.get("pin", {})
    if not isinstance(pin, dict):
        raise _Bad(("pin",), f"pin: expected a mapping of file to digest, found {_kind(pin)}")
    for file, digest in pin.items():
        if not paths.is_definition_path(file):
            raise _Bad(
                ("pin", file),
                f"pin: {paths.shown(file)!r} is not a file under models/ or workflows/",
                key=True,
            )
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise _Bad(("pin", file), "pin: expected sha256:<64 hex digits>")
    try:
        state = ItemState(data.get("state", ItemState.QUEUED))
    except ValueError:
        raise _Bad(("state",), "state: expected one of " + ", ".join(ItemState)) from None
    if done != (state is ItemState.SUCCEEDED):
        where = "done/" if done else "queue/"
        raise _Bad(("state",), f"state: {state} is not a state of an item in {where}")
    run = data.get("run")
    if run is not None and not paths.is_run_id(run):
        raise _Bad(
            ("run",),
            f"run {paths.shown(run)!r}: expected a run id such as 20261124-020000-deploy-1a2b3c",
        )
    for name in ("claim", "release", "approval", "result"):
        if name in data and not isinstance(data[name], dict):
            raise _Bad((name,), f"{name}: expected a mapping, found {_kind(data[name])}")
    for name in ("claim", "release"):
        for key, value in (data.get(name) or {}).items():
            if not isinstance(value, str):
                raise _Bad((name, key), f"{name}.{key}: expected a string, found {_kind(value)}")
    if identity(kind, target, inputs) != item_id:
        raise _Bad(
            ("id",),
            f"id {item_id} does not match its content (kind, target and inputs digest to "
            f"{identity(kind, target, inputs)}): it was edited after it was queued; purge it "
            "and queue it again in a reviewed change",
        )
    fields = {k: data[k] for k in REQUEST_FIELDS if k in data}
    return Request(
        kind,
        target,
        MappingProxyType(dict(inputs)),
        MappingProxyType(fields),
        note=data.get("note"),
        requested_by=data.get("requestedBy"),
        requested_at=data.get("requestedAt"),
        not_before=data.get("notBefore"),
        not_after=data.get("notAfter"),
        window=data.get("window"),
    )


def iter_items(root: Path, *, include_done: bool = False) -> Iterator[Item | BrokenItem]:
    """Items in queue/ (and done/), or why a file there is not one.

    A file that disappears meanwhile (another runner finished it) is skipped.
    Two files in queue/ with one id are both broken: an item runs once.
    """
    folders = [(queue_dir(root), False)]
    if include_done:
        folders.append((done_dir(root), True))
    for folder, done in folders:
        found: list[Item | BrokenItem] = []
        for entry in _item_files(root, folder):
            if isinstance(entry, BrokenItem):
                found.append(entry)
                continue
            loaded = _load_listed(entry, done)
            if loaded is not None:
                found.append(loaded)
        if not done:
            found = _without_duplicates(found)
        yield from found


def _load_listed(path: Path, done: bool) -> Item | BrokenItem | None:
    """An item file as listed by `_item_files` (a file, not a link, in a folder
    that is not a link), or None when it is gone since (another runner moved it)."""
    try:
        text = read_text(path, f"{path.parent.name}/{path.name}", follow_symlinks=False)
    except LoadError as e:
        if not path.exists():
            return None
        return BrokenItem(path, e.problem)
    return parse_item(text, path, done=done)


def _without_duplicates(found: list[Item | BrokenItem]) -> list[Item | BrokenItem]:
    by_id: dict[str, list[Item]] = {}
    for entry in found:
        if isinstance(entry, Item):
            by_id.setdefault(entry.id, []).append(entry)
    out: list[Item | BrokenItem] = []
    for entry in found:
        if isinstance(entry, Item) and len(by_id[entry.id]) > 1:
            others = ", ".join(f"queue/{i.path.name}" for i in by_id[entry.id] if i is not entry)
            problem = Problem(
                f"queue/{entry.path.name}",
                1,
                1,
                f"id {entry.id} is also the id of {others}; an item is queued once: "
                "remove all but one",
            )
            out.append(BrokenItem(entry.path, problem))
        else:
            out.append(entry)
    return out


def in_review_order(entries: Iterable[Item | BrokenItem]) -> list[Item | BrokenItem]:
    """Items in the order they were requested (then by file name), so a list
    reads in the order of intent; finished items after them, unreadable
    files last."""

    def key(entry: Item | BrokenItem) -> tuple[int, str, str]:
        if isinstance(entry, BrokenItem):
            return (2, "", entry.path.name)
        return (int(entry.done), entry.request.requested_at or "", entry.path.name)

    return sorted(entries, key=key)


def existing(root: Path, item_id: str) -> Item | None:
    """The queued item with this id. File names end with the id, so this
    reads one file, not the whole queue."""
    if not ID_PATTERN.fullmatch(item_id):
        return None
    for path in sorted(queue_dir(root).glob(f"*{item_id}.y*ml")):
        item = read_item(path)
        if item is not None and item.id == item_id:
            return item
    return None


def pin(repo: Pinned, kind: str, target: str) -> dict[str, str]:
    """Digests of every definition the invocation depends on."""
    return {f: repo.digests[f] for f in repo.target_files(kind, target)}


def stale_files(repo: Pinned, item: Item) -> list[str]:
    """Pinned files whose content changed (or vanished) since the item was queued."""
    pinned = item.request.pin
    changed = [f for f, digest in pinned.items() if repo.digests.get(f) != digest]
    # A definition the target now depends on that was not reviewed with it.
    with contextlib.suppress(SwampError):
        changed += [f for f in pin(repo, item.kind, item.target) if f not in pinned]
    return sorted(set(changed))
