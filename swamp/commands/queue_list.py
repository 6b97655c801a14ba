"""`swamp queue list`: apart from the other queue commands, so that listing
imports neither the executor nor validation (see swamp/pins.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swamp import output
from swamp.pins import load_index
from swamp.queue.listing import queue_rows


def _abridge(inputs: dict[str, Any], width: int = 40) -> str:
    text = ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in inputs.items())
    return text if len(text) <= width else text[: width - 1] + "…"


def list_queue(repo_path: Path | None, *, as_json: bool, include_done: bool = False) -> int:
    repo = load_index(repo_path)
    rows, broken = queue_rows(repo, include_done=include_done)
    if as_json:
        output.as_json(rows)
        return 0
    for problem in broken:
        output.err(f"swamp: warning: skipping {problem} (see `swamp validate`)")
    if not rows:
        output.out(
            "the queue is empty: stage work with `swamp workflow queue` or `swamp method queue`"
        )
        return 0
    header = ("ID", "KIND", "TARGET", "INPUTS", "STATE", "REQUESTED")
    table = [
        (
            r["id"],
            r["kind"],
            r["target"],
            _abridge(r["inputs"]),
            r["state"],
            f"{r['requestedBy']} {str(r['requestedAt'])[:16]}",
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in (header, *table)) for i in range(len(header))]
    output.out("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row, r in zip(table, rows, strict=True):
        output.out("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if r["detail"]:
            output.out(f"{'':<{widths[0]}}  └ {r['detail']}")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    output.out(
        f"{len(rows)} item{'s' if len(rows) != 1 else ''}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
    )
    return 0
