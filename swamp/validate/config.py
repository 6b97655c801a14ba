"""swamp.yaml: its schema, and windows whose cron and time zone must be real."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from swamp.definitions import (
    Config,
)
from swamp.errors import Problem
from swamp.loader import Document
from swamp.repo import CONFIG_FILE, Contents, Repository
from swamp.validate.common import (
    load_doc,
    mapping_problems,
    schema_errors,
)


def load_config(repo: Contents) -> Config:
    """swamp.yaml's settings; its problems go to `repo`, and what is wrong is
    left out (the defaults stand in)."""
    path = repo.root / CONFIG_FILE
    doc = load_doc(repo, path)
    if doc is None:
        return Config()
    if doc.data is None:
        doc.data = {}
    problems = mapping_problems(doc)
    if problems:
        repo.problems.extend(problems)
        return Config()
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
    repo.problems.extend(problems)
    return Config.from_data(data)


def _window_problems(doc: Document, name: str, w: Mapping[str, Any]) -> list[Problem]:
    # start-up time: zoneinfo and croniter load only when windows are checked
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    out = []
    wrong = cron_field_problem(w["cron"])
    if wrong is None and not croniter.is_valid(w["cron"]):
        wrong = "is not a valid cron expression"
    if wrong is not None:
        out.append(
            doc.problem(("windows", name, "cron"), f"windows.{name}.cron: {w['cron']!r} {wrong}")
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


_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)


def cron_field_problem(cron: str) -> str | None:
    """What is wrong with a cron expression's shape or numbers, said per field."""
    fields = cron.split()
    if len(fields) != 5:
        return (
            f"has {len(fields)} field{'s' if len(fields) != 1 else ''}; expected five: "
            "minute hour day-of-month month day-of-week"
        )
    for text, (label, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            base = part.split("/")[0]
            for number in re.findall(r"\d+", base):
                if not low <= int(number) <= high:
                    return f"has {label} {number}, out of range ({low}-{high})"
    return None


def schedule_problems(repo: Repository) -> list[Problem]:
    """Windows that the execute workflow's schedule never runs in."""
    # start-up time: zoneinfo and croniter load only when windows are checked
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    # start-up time: loaded only on this path
    from swamp import ci

    doc = repo.docs.get(CONFIG_FILE)
    crons = ci.scheduled_crons(repo.root)
    if doc is None or crons is None:
        return []
    out = []
    for name in sorted(repo.config.windows):
        window = repo.config.windows[name]
        try:
            ZoneInfo(window.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            continue  # reported already
        if cron_field_problem(window.cron) or not croniter.is_valid(window.cron):
            continue  # reported already
        first = ci.uncovered(window, crons)
        if first is not None:
            out.append(
                doc.problem(
                    ("windows", name),
                    f"windows.{name}: opens at {first:%Y-%m-%d %H:%M} UTC but no schedule of "
                    f"{ci.EXECUTE_WORKFLOW} runs before it closes; run `swamp ci sync`",
                )
            )
    return out
