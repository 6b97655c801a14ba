from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swamp import freeze, output
from swamp.errors import SwampError
from swamp.identity import who
from swamp.inputs import parse_inputs
from swamp.queue import items
from swamp.queue.executor import Executor, Report, Selector, purge, select
from swamp.queue.stage import When, stage
from swamp.queue.status import status
from swamp.queue.timing import iso, utcnow
from swamp.repo import Repository, load_repository


def _stage(
    repo_path: Path | None,
    kind: str,
    target: str,
    pairs: list[str],
    input_files: list[Path],
    *,
    note: str | None,
    when: When,
    by: str | None,
    as_json: bool,
) -> int:
    repo = load_repository(repo_path)
    item = stage(
        repo,
        kind,
        target,
        parse_inputs(pairs, input_files),
        by=who(by, repo.root),
        note=note,
        when=when,
    )
    rel = item.path.relative_to(repo.root).as_posix()
    if as_json:
        output.as_json({"item": item.id, "file": rel, **item.data})
        return 0
    output.out(f"queued {item.id}: {kind} {item.target} -> {rel}")
    if item.data.get("notBefore") or item.data.get("window"):
        st = status(repo, item, utcnow())
        output.out(f"  {st.state}: {st.detail}")
    output.out(f"  commit it for review; execute it with: swamp queue execute --item {item.id}")
    return 0


def queue_workflow(
    repo_path: Path | None, name: str, pairs: list[str], input_files: list[Path], **kw: Any
) -> int:
    return _stage(repo_path, "workflow", name, pairs, input_files, **kw)


def queue_method(
    repo_path: Path | None,
    model: str,
    method: str,
    pairs: list[str],
    input_files: list[Path],
    **kw: Any,
) -> int:
    return _stage(repo_path, "method", f"{model}.{method}", pairs, input_files, **kw)


def _abridge(inputs: dict[str, Any], width: int = 40) -> str:
    text = ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in inputs.items())
    return text if len(text) <= width else text[: width - 1] + "…"


def list_queue(repo_path: Path | None, *, as_json: bool, include_done: bool = False) -> int:
    repo = load_repository(repo_path)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    broken: list[str] = []
    for entry in items.in_review_order(items.iter_items(repo.root, include_done=include_done)):
        if isinstance(entry, Path):
            broken.append(entry.relative_to(repo.root).as_posix())
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
    if as_json:
        output.as_json(rows)
        return 0
    for path in broken:
        output.err(f"swamp: warning: {path} is not a readable queue item (see `swamp validate`)")
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


# The order outcomes are summed up in: what ran, then what did not and why.
OUTCOMES = (
    "succeeded",
    "failed",
    "held",
    "paused",
    "stopped",
    "would-run",
    "waiting",
    "expired",
    "stale",
    "frozen",
    "skipped",
)


def _outcome_order(outcome: str) -> int:
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else len(OUTCOMES)


def _refuse_frozen(repo: Repository) -> None:
    info = freeze.read(repo.root)
    if info is not None:
        raise SwampError(f"queue execute refused: {freeze.describe(info)}")


def execute(
    repo_path: Path | None,
    selector: Selector,
    *,
    dry_run: bool,
    concurrency: int | None,
    by: str | None,
    as_json: bool,
) -> int:
    repo = load_repository(repo_path)
    selector.check()
    if not dry_run:
        _refuse_frozen(repo)
    chosen, broken = select(repo.root, selector)
    for path in broken:
        output.err(
            f"swamp: warning: skipping {path.relative_to(repo.root)}: "
            "not a readable queue item (see `swamp validate`)"
        )
    if not chosen:
        if as_json:
            output.as_json({"items": [], "summary": {}})
        else:
            output.out("nothing to execute: no queued item matches")
        return 0
    repo.require_valid()

    def tell(report: Report) -> None:
        if not as_json:
            detail = f": {report.detail}" if report.detail else ""
            output.out(f"{report.item} {report.target}: {report.outcome}{detail}")

    executor = Executor(repo, who(by, repo.root), dry_run=dry_run, quiet=as_json, on_report=tell)
    reports = executor.run_all(chosen, selector, concurrency or 1)
    summary: dict[str, int] = {}
    for outcome in sorted({r.outcome for r in reports}, key=_outcome_order):
        summary[outcome] = sum(r.outcome == outcome for r in reports)
    if as_json:
        output.as_json({"items": [r.as_dict() for r in reports], "summary": summary})
    else:
        ran = sum(summary.get(k, 0) for k in ("succeeded", "failed", "held", "paused", "stopped"))
        parts = [f"{n} {k}" for k, n in summary.items()]
        verb = "would run" if dry_run else "ran"
        count = summary.get("would-run", 0) if dry_run else ran
        output.out(f"{verb} {count} of {len(reports)} selected: " + ", ".join(parts))
    bad = {"failed", "stale", "stopped", "frozen"}
    return 1 if any(r.outcome in bad for r in reports) else 0


def purge_queue(repo_path: Path | None, selector: Selector, *, dry_run: bool, as_json: bool) -> int:
    repo = load_repository(repo_path)
    chosen, _ = select(repo.root, selector)
    reports = [purge(repo, item, dry_run=dry_run) for item in chosen]
    if as_json:
        output.as_json([r.as_dict() for r in reports])
    elif not reports:
        output.out("nothing to purge: no queued item matches")
    else:
        for r in reports:
            extra = f" (run {r.run} cancelled)" if r.run and r.outcome == "purged" else ""
            detail = f": {r.detail}" if r.detail else ""
            output.out(f"{r.item} {r.target}: {r.outcome}{detail}{extra}")
        done = sum(r.outcome in ("purged", "would-purge") for r in reports)
        verb = "would purge" if dry_run else "purged"
        refused = sum(r.outcome == "refused" for r in reports)
        output.out(
            f"{verb} {done} of {len(reports)} selected"
            + (f", {refused} refused" if refused else "")
        )
    return 1 if any(r.outcome == "refused" for r in reports) else 0


def freeze_repo(repo_path: Path | None, *, reason: str, by: str | None, as_json: bool) -> int:
    repo = load_repository(repo_path)
    existing = freeze.read(repo.root)
    if existing is not None:
        raise SwampError(f"already frozen: {freeze.describe(existing)}")
    who_, at = who(by, repo.root), iso(utcnow())
    freeze.freeze(repo.root, by=who_, at=at, reason=reason)
    if as_json:
        output.as_json({"frozen": True, "frozenBy": who_, "frozenAt": at, "reason": reason})
        return 0
    output.out(
        f"frozen: nothing will run until `swamp unfreeze` ({freeze.FREEZE_FILE} written; "
        "commit it so every runner sees it)"
    )
    return 0


def unfreeze_repo(repo_path: Path | None, *, as_json: bool) -> int:
    repo = load_repository(repo_path)
    if not freeze.unfreeze(repo.root):
        raise SwampError("the repository is not frozen")
    if as_json:
        output.as_json({"frozen": False})
        return 0
    output.out(f"unfrozen: {freeze.FREEZE_FILE} removed")
    return 0
