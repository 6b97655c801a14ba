"""Times and windows: when an item may run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from swamp.config import Window, parse_duration
from swamp.errors import UsageError


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    """An ISO 8601 time, in UTC; ValueError if it is none.

    A time without an offset is UTC, wherever swamp runs: a time in a file
    or on a command line means the same moment on every runner and to every
    reviewer, whatever their machines' time zones.
    """
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse_time(value: str, *, option: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (without an offset: UTC) or +DURATION."""
    now = now or utcnow()
    text = value.strip()
    if text.startswith("+"):
        try:
            seconds = parse_duration(text[1:])
        except ValueError:
            seconds = None
        if seconds is None:
            raise UsageError(f"{option} {value!r}: expected +DURATION such as +2h")
        return now + timedelta(seconds=seconds)
    try:
        return parse_iso(text)
    except ValueError:
        raise UsageError(
            f"{option} {value!r}: expected an ISO 8601 time such as 2026-11-24T02:00:00Z, "
            "or +DURATION such as +2h"
        ) from None


def window_status(window: Window, now: datetime) -> tuple[bool, datetime]:
    """(open now, when it closes if open / when it next opens if not)."""
    from zoneinfo import ZoneInfo  # start-up: only an item bound to a window needs it

    # start-up time: croniter loads only when used
    from croniter import croniter

    local = now.astimezone(ZoneInfo(window.timezone))
    # The latest opening at or before now: croniter's get_prev is strictly
    # before its start, so ask from just after now, and from now itself when
    # that finds an opening still to come (now is in the second before it).
    last = croniter(window.cron, local + timedelta(seconds=1)).get_prev(datetime)
    if last > local:
        last = croniter(window.cron, local).get_prev(datetime)
    closes = last + timedelta(seconds=window.duration)
    if last <= local < closes:
        return True, closes.astimezone(UTC)
    nxt = croniter(window.cron, local).get_next(datetime)
    return False, nxt.astimezone(UTC)
