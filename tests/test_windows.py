"""Windows at their edges: the moments around an opening and a closing."""

from __future__ import annotations

from datetime import datetime

import pytest

from swamp.definitions import Window
from swamp.timing import window_status

EVERY_MINUTE = Window("always", "* * * * *", 120.0)
NIGHTLY = Window("nightly", "0 2 * * *", 60.0)
PARIS = Window("paris", "30 1 * * 6", 3 * 3600.0, "Europe/Paris")


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        # Half a second before a minute turns, an every-minute window is open.
        (EVERY_MINUTE, "2026-11-24T12:00:59.5+00:00", (True, "2026-11-24T12:02:00+00:00")),
        (EVERY_MINUTE, "2026-11-24T12:01:00+00:00", (True, "2026-11-24T12:03:00+00:00")),
        (NIGHTLY, "2026-11-24T01:59:59.6+00:00", (False, "2026-11-24T02:00:00+00:00")),
        (NIGHTLY, "2026-11-24T02:00:00+00:00", (True, "2026-11-24T02:01:00+00:00")),
        (NIGHTLY, "2026-11-24T02:00:59+00:00", (True, "2026-11-24T02:01:00+00:00")),
        (NIGHTLY, "2026-11-24T02:01:00+00:00", (False, "2026-11-25T02:00:00+00:00")),
        # The cron is read in the window's time zone (Paris is UTC+1 in November).
        (PARIS, "2026-11-28T00:29:00+00:00", (False, "2026-11-28T00:30:00+00:00")),
        (PARIS, "2026-11-28T03:29:59+00:00", (True, "2026-11-28T03:30:00+00:00")),
    ],
)
def test_window_status_at_the_edges(window: Window, now: str, expected: tuple[bool, str]) -> None:
    is_open, when = window_status(window, datetime.fromisoformat(now))
    assert (is_open, when.isoformat()) == expected
