"""GitHub Actions schedules derived from swamp.yaml's windows.

GitHub's `schedule:` crons are in UTC and the windows are in their own time
zones, so the execute workflow's crons are computed, not written by hand:
`swamp ci sync` (and `swamp init`) rewrite the block between the markers, and
`swamp validate` reports a window that the schedule never covers.

Each window's openings over a year are converted to UTC and grouped into
crons, so a zone with daylight saving time gets both UTC offsets: one of the two
runs falls outside the window and finds nothing due. Runs are asked for a few
minutes after the opening (GitHub delays runs at the top of the hour most).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from swamp.definitions import Window
from swamp.errors import SwampError

EXECUTE_WORKFLOW = ".github/workflows/swamp-execute.yml"
BEGIN = "# BEGIN swamp ci sync"
END = "# END swamp ci sync"
# How often the schedule also runs, for items with notBefore (--at, --not-before).
EVERY = {"15m": "*/15 * * * *", "30m": "7,37 * * * *", "1h": "7 * * * *", "off": ""}
DEFAULT_EVERY = "1h"
_HORIZON = timedelta(days=366)
_MAX_OPENINGS = 2000


@dataclass(frozen=True)
class Cron:
    expression: str
    comment: str


def _openings(window: Window, start: datetime) -> Iterable[datetime]:
    """The window's openings from start for a year (at most _MAX_OPENINGS), in UTC."""
    # start-up time: zoneinfo and croniter load only when windows are computed
    from zoneinfo import ZoneInfo

    from croniter import croniter

    local = start.astimezone(ZoneInfo(window.timezone))
    it = croniter(window.cron, local)
    for _ in range(_MAX_OPENINGS):
        moment: datetime = it.get_next(datetime)
        if moment - local > _HORIZON:
            return
        yield moment.astimezone(UTC)


def _lag(window: Window) -> timedelta:
    """How long after the opening the run is asked for: a few minutes when the
    window is long enough, away from the top of the hour."""
    return timedelta(minutes=3) if window.duration >= 10 * 60 else timedelta(0)


def _field(values: set[int], full: int) -> str:
    return "*" if len(values) == full else ",".join(str(v) for v in sorted(values))


def window_crons(window: Window, start: datetime | None = None) -> list[Cron]:
    """UTC crons that fire once inside every opening of the window."""
    start = start or datetime.now(UTC)
    fields = window.cron.split()
    by_time: dict[tuple[int, int], tuple[set[int], set[int], set[int]]] = {}
    for opening in _openings(window, start):
        at = opening + _lag(window)
        doms, months, dows = by_time.setdefault((at.minute, at.hour), (set(), set(), set()))
        doms.add(at.day)
        months.add(at.month)
        dows.add((at.weekday() + 1) % 7)  # cron: 0 is Sunday
    crons = []
    restricted_days = fields[2] != "*" or fields[3] != "*"
    for (minute, hour), (doms, months, dows) in sorted(by_time.items()):
        if restricted_days:
            expression = f"{minute} {hour} {_field(doms, 31)} {_field(months, 12)} *"
        else:
            expression = f"{minute} {hour} * * {_field(dows, 7)}"
        crons.append(Cron(expression, f"window {window.name} ({window.timezone})"))
    return crons


def schedule_crons(windows: Mapping[str, Window], every: str = DEFAULT_EVERY) -> list[Cron]:
    if every not in EVERY:
        raise SwampError(f"--every {every!r}: expected one of {', '.join(EVERY)}")
    crons: list[Cron] = []
    if EVERY[every]:
        crons.append(Cron(EVERY[every], f"every {every}: items with --at / --not-before"))
    seen = {c.expression for c in crons}
    for name in sorted(windows):
        for cron in window_crons(windows[name]):
            if cron.expression not in seen:
                seen.add(cron.expression)
                crons.append(cron)
    return crons


def schedule_block(crons: list[Cron], indent: str = "    ") -> str:
    """The YAML lines of a `schedule:` list (without the markers)."""
    return "\n".join(f'{indent}- cron: "{c.expression}" # {c.comment}' for c in crons)


def current_every(text: str) -> str:
    """The --every that wrote this workflow's schedule (the default if none)."""
    for line in _block(text):
        for every, expression in EVERY.items():
            if expression and f'"{expression}" # every {every}:' in line:
                return every
    return "off" if BEGIN in text else DEFAULT_EVERY


def _block(text: str) -> list[str]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if BEGIN in line), None)
    end = next((i for i, line in enumerate(lines) if END in line), None)
    if start is None or end is None or end < start:
        return []
    return lines[start + 1 : end]


def replace_block(text: str, block: str) -> str | None:
    """The workflow text with the lines between the markers replaced (None when
    the markers are missing)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if BEGIN in line), None)
    end = next((i for i, line in enumerate(lines) if END in line), None)
    if start is None or end is None or end < start:
        return None
    return "".join(lines[: start + 1]) + block + "\n" + "".join(lines[end:])


def sync(root: Path, windows: Mapping[str, Window], every: str | None) -> tuple[Path, bool]:
    """Rewrite the schedule of the execute workflow; (its path, whether it changed)."""
    # start-up time: loaded only on this path
    from swamp.fsutil import atomic_write

    path = root / EXECUTE_WORKFLOW
    if not path.is_file():
        raise SwampError(f"{EXECUTE_WORKFLOW} not found; `swamp init` writes it")
    text = path.read_text("utf-8")
    crons = schedule_crons(windows, every or current_every(text))
    if not crons:
        raise SwampError(
            "nothing to schedule: swamp.yaml has no windows and --every is off, but GitHub "
            "needs at least one cron under `schedule:`; keep --every, or remove that trigger"
        )
    block = schedule_block(crons)
    new = replace_block(text, block)
    if new is None:
        raise SwampError(
            f"{EXECUTE_WORKFLOW}: no '{BEGIN}' … '{END}' lines under `schedule:`; "
            "add them where the crons belong"
        )
    if new != text:
        atomic_write(path, new, fsync=False)
    return path, new != text


def scheduled_crons(root: Path) -> list[str] | None:
    """The crons of the execute workflow (None when there is no such workflow)."""
    # start-up time: yaml loads only when used
    import yaml

    path = root / EXECUTE_WORKFLOW
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError:
        return None
    # YAML reads the key `on` as True.
    triggers = data.get("on", data.get(True)) if isinstance(data, dict) else None
    schedule = triggers.get("schedule") if isinstance(triggers, dict) else None
    if not isinstance(schedule, list):
        return []
    return [str(s["cron"]) for s in schedule if isinstance(s, dict) and "cron" in s]


def uncovered(window: Window, crons: list[str], start: datetime | None = None) -> datetime | None:
    """The first opening of the window in which no cron fires (None: all covered)."""
    # start-up time: croniter loads only when used
    from croniter import croniter

    start = start or datetime.now(UTC)
    fields = window.cron.split()
    every_day = fields[2] == "*" and fields[3] == "*"
    checked: set[tuple[int, ...]] = set()
    for opening in _openings(window, start):
        # Openings of a weekly pattern repeat in UTC apart from DST changes:
        # check each (weekday, time) once.
        when = opening.hour * 60 + opening.minute
        key = (opening.weekday(), when) if every_day else (opening.month, opening.day, when)
        if key in checked:
            continue
        checked.add(key)
        end = opening + timedelta(seconds=window.duration)
        fires = (
            croniter(c, opening - timedelta(seconds=1)).get_next(datetime)
            for c in crons
            if croniter.is_valid(c)
        )
        if not any(f < end for f in fires):
            return opening
    return None
