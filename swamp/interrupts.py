"""What Ctrl-C and SIGTERM mean while runs execute.

The first SIGINT or SIGTERM stops the process's runs: no new step starts,
every running step's process group gets SIGTERM, then SIGKILL once the grace
period (swamp.yaml `defaults.stopGrace`) has passed. A second signal skips
what is left of the grace. The runs record which steps were in flight, and
swamp exits with 130. (GitHub Actions cancels a job with SIGINT, then SIGTERM
7.5 s later, then kills the process tree 2.5 s after that.)

While no run executes, a signal interrupts the command at once, as usual.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """Runs were interrupted by a signal; the boundary exits with 130.

    Not a SwampError on purpose: nothing that turns user errors into a
    failed item (the queue executor) may swallow it."""

    exit_code = 130


class _State:
    def __init__(self) -> None:
        self.requested = threading.Event()  # the first signal: start nothing new
        self.kill_now = threading.Event()  # the second: skip the grace
        self.signal_name = ""
        self.active = 0  # runs executing in this process
        self.grace = 5.0
        self.lock = threading.Lock()


STATE = _State()


def reason() -> str:
    return f"interrupted by {STATE.signal_name or 'a signal'}"


def _handler(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if STATE.active == 0 and not STATE.requested.is_set():
        raise KeyboardInterrupt  # nothing runs: stop the command at once
    if STATE.requested.is_set():
        STATE.kill_now.set()
        sys.stderr.write(f"swamp: {name} again: killing the steps still running now\n")
        return
    STATE.signal_name = name
    STATE.requested.set()
    sys.stderr.write(
        f"swamp: {name}: no new steps start; running steps get SIGTERM, then SIGKILL after "
        f"{STATE.grace:g}s (send the signal again to kill them now)\n"
    )


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Install the handlers for the command's duration (main thread only;
    elsewhere the caller's handlers stay)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        # The next command in this process (tests, serve) starts afresh.
        STATE.requested.clear()
        STATE.kill_now.clear()
        STATE.signal_name = ""


@contextlib.contextmanager
def running(grace: float) -> Iterator[None]:
    """Mark a run as executing: signals now stop runs rather than the command."""
    if STATE.requested.is_set():
        raise Interrupted(reason() + "; nothing more was started")
    with STATE.lock:
        STATE.active += 1
        STATE.grace = grace
    try:
        yield
    finally:
        with STATE.lock:
            STATE.active -= 1
