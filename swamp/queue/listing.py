"""The rows of `swamp queue list` (and of `swamp serve`'s queue): each item
with the state a reviewer should see now."""

from __future__ import annotations

from typing import Any

from swamp.queue import items
from swamp.queue.status import status
from swamp.queue.timing import utcnow
from swamp.repo import Pinned


def queue_rows(
    repo: Pinned, *, include_done: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """What `queue list --json` prints (and `swamp serve` answers), and the
    files that are not readable items."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    broken: list[str] = []
    for entry in items.in_review_order(items.iter_items(repo.root, include_done=include_done)):
        if isinstance(entry, items.BrokenItem):
            broken.append(str(entry.problem))
            continue
        st = status(repo, entry, now)
        rows.append(
            {
                "id": entry.id,
                "kind": entry.kind,
                "target": entry.target,
                "inputs": entry.inputs,
                "state": st.state,
                "detail": st.detail,
                "requestedBy": entry.data.get("requestedBy"),
                "requestedAt": entry.data.get("requestedAt"),
                "note": entry.data.get("note"),
                "run": entry.data.get("run"),
                "file": entry.path.relative_to(repo.root).as_posix(),
            }
        )
    return rows, broken
