"""swamp.yaml: its schema, and windows whose cron and time zone must be real."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swamp.definitions import (
    Config,
)
from swamp.errors import Problem
from swamp.loader import Document
from swamp.repo import CONFIG_FILE
from swamp.validate.common import (
    Loading,
    mapping_problems,
    schema_errors,
)


def load_config(repo: Loading) -> None:
    path = repo.root / CONFIG_FILE
    doc = repo.load_doc(path)
    if doc is None:
        return
    if doc.data is None:
        doc.data = {}
    problems = mapping_problems(doc)
    if problems:
        repo.problems += problems
        return
    problems, where = schema_errors(doc, "swamp")
    # Drop only what is wrong; what is left still serves the other checks
    # (the env and secrets names above all).
    data = dict(doc.data)
    for at in where:
        top = str(at[0]) if at else ""
        if len(at) >= 2 and top in ("windows", "defaults") and isinstance(data.get(top), dict):
            data[top] = {k: v for k, v in data[top].items() if k != at[1]}
        elif top:
            data.pop(top, None)
    for name, w in (data.get("windows") or {}).items():
        problems += _window_problems(doc, name, w)
    repo.problems += problems
    repo.config = Config.from_data(data)


def _window_problems(doc: Document, name: str, w: Mapping[str, Any]) -> list[Problem]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    out = []
    if not croniter.is_valid(w["cron"]) or len(w["cron"].split()) != 5:
        out.append(
            doc.problem(
                ("windows", name, "cron"),
                f"windows.{name}.cron: {w['cron']!r} is not a five-field cron expression",
            )
        )
    tz = w.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(
            doc.problem(
                ("windows", name, "timezone"), f"windows.{name}.timezone: unknown time zone {tz!r}"
            )
        )
    return out
