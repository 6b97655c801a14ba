"""Staging: `swamp workflow queue`, `swamp method queue`, `swamp method schedule`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from swamp import items, secrets
from swamp.engine import service
from swamp.errors import SwampError, UsageError
from swamp.expressions import walk_strings
from swamp.identity import checked_text
from swamp.inputs import apply_defaults, check_inputs
from swamp.repo import Repository
from swamp.timing import iso, parse_time, utcnow


@dataclass(frozen=True)
class When:
    """Raw --not-before / --not-after / --window options."""

    not_before: str | None = None
    not_after: str | None = None
    window: str | None = None
    not_before_option: str = "--not-before"  # `method schedule` calls it --at


def stage(
    repo: Repository,
    kind: str,
    target: str,
    given: dict[str, Any],
    *,
    by: str,
    note: str | None,
    when: When,
) -> items.Item:
    """Validate everything, then write queue/<slug>-<id>.yaml atomically."""
    by = checked_text("--by", by)
    if note is not None:
        note = checked_text("--note", note)
    wf = service.target_workflow(repo, kind, target)
    files = items.pin(repo, kind, target)
    repo.require_valid(list(files))
    inputs = apply_defaults(given, wf.inputs)
    check_inputs(inputs, wf.inputs, f"{kind} {target}")
    _refuse_secrets(inputs)
    now = utcnow()
    timing: dict[str, str] = {}
    if when.not_before:
        not_before = parse_time(when.not_before, option=when.not_before_option, now=now)
        if not_before.microsecond:  # stored to the second: round up, never early
            not_before += timedelta(microseconds=1_000_000 - not_before.microsecond)
        timing["notBefore"] = iso(not_before)
    if when.not_after:
        not_after = parse_time(when.not_after, option="--not-after", now=now)
        if not_after <= now:
            raise UsageError(f"--not-after {when.not_after!r} is already past")
        timing["notAfter"] = iso(not_after)
    if "notBefore" in timing and "notAfter" in timing and timing["notAfter"] <= timing["notBefore"]:
        raise UsageError("--not-after must be later than --not-before")
    if when.window is not None and when.window not in repo.config.windows:
        known = ", ".join(sorted(repo.config.windows)) or "none defined in swamp.yaml"
        raise SwampError(f"unknown window {when.window!r} (known: {known})")
    item_id = items.identity(kind, target, inputs)
    found = items.existing(repo.root, item_id)
    if found is not None:
        rel = found.path.relative_to(repo.root).as_posix()
        raise SwampError(
            f"this {kind} is already queued as {item_id} ({rel}, {found.state}); "
            "the same invocation can be queued once — purge it first to queue it again"
        )
    data: dict[str, Any] = {"id": item_id, "kind": kind}
    if kind == "workflow":
        data["workflow"] = target
    else:
        model, _, method = target.partition(".")
        data["model"], data["method"] = model, method
    data["inputs"] = inputs
    if note:
        data["note"] = note
    data.update(timing)
    if when.window:
        data["window"] = when.window
    data["requestedBy"] = by
    data["requestedAt"] = iso(now)
    data["pin"] = files
    data["state"] = items.ItemState.QUEUED.value
    path = items.queue_dir(repo.root) / f"{items.slug(target, inputs)}-{item_id}.yaml"
    items.Item(data, path).save()  # the one place a new item's fields are written
    # Read back through the one loader: what was written is what will run.
    item = items.load_item(path)
    if isinstance(item, items.BrokenItem):
        path.unlink()
        raise SwampError(f"the staged item could not be read back: {item.problem}")
    return item


def _refuse_secrets(inputs: dict[str, Any]) -> None:
    """A queue item is committed for review: a secret's value must never be in it."""
    for path, text in walk_strings(inputs):
        if secrets.mask_text(text) != text:
            name = ".".join(str(p) for p in path)
            raise SwampError(
                f"input {name} holds a secret's value; a queued item is committed for review, "
                "so read secrets in the definition (secrets.NAME), never pass them as inputs"
            )
