"""Showing a run as it goes: one plain line per transition, or a live view
of jobs and steps on a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO, assert_never

from swamp import secrets
from swamp.engine.runs import RunHandle
from swamp.engine.state import JobStatus

_SYMBOL = {
    "succeeded": "ok",
    "failed": "FAILED",
    "skipped": "skipped",
    "stopped": "stopped",
    "held": "ON HOLD",
    "running": "running",
}


def describe(event: dict[str, Any]) -> str | None:
    """One line for a journal event, or None for events not worth a line."""
    kind = event["type"]
    if kind == "run-state":
        reason = f" ({event['reason']})" if event.get("reason") else ""
        return f"run {event['state']}{reason}"
    if kind == "job-state":
        state = JobStatus(event["state"])
        line = f"job {event['job']}: {_SYMBOL.get(state, state)}"
        match state:
            case JobStatus.PENDING:
                return None  # back to pending: nothing happened yet
            case JobStatus.HELD if event.get("prompt"):
                return line + f": {event['prompt']}"
            case (
                JobStatus.HELD
                | JobStatus.RUNNING
                | JobStatus.SUCCEEDED
                | JobStatus.FAILED
                | JobStatus.SKIPPED
                | JobStatus.STOPPED
            ):
                return line + (f" ({event['reason']})" if event.get("reason") else "")
            case _:
                assert_never(state)
    if kind == "job-released":
        return f"job {event['job']}: released by {event.get('by')}"
    if kind == "step-started":
        attempt = f" (attempt {event['attempt']})" if event.get("attempt", 1) > 1 else ""
        return f"step {event['job']}/{event['step']}: started {event.get('target', '')}{attempt}"
    if kind == "step-finished":
        line = f"step {event['job']}/{event['step']}: {_SYMBOL.get(event['state'], event['state'])}"
        if event.get("error"):
            line += f": {event['error']}"
        if event.get("allowed"):
            line += " (allowed to fail)"
        return line
    return None


class PlainProgress:
    """For CI and pipes: a timestamped line per transition."""

    def __init__(self, stream: TextIO | None = None, *, label: str = "") -> None:
        self.stream = stream or sys.stderr
        # Says whose line it is when several runs share a stream (queue items).
        self.prefix = f"{label}: " if label else ""

    def __call__(self, event: dict[str, Any], run: RunHandle) -> None:
        line = describe(event)
        if line:
            stamp = time.strftime("%H:%M:%S")
            # One write per line, so lines of parallel runs never interleave.
            self.stream.write(secrets.mask_text(f"[{stamp}] {self.prefix}{line}") + "\n")
            self.stream.flush()

    def close(self) -> None:
        return None


class LiveProgress:
    """On a terminal: a table of jobs and steps, redrawn as the run moves.

    Events only note the run; the table is built when the screen is
    refreshed (8 times a second), so a long run costs no more per step.
    """

    TAIL = 12  # steps shown per job: the latest

    def __init__(self) -> None:
        # start-up time: rich loads only when used
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.run: RunHandle | None = None
        self.live = Live(
            console=self.console,
            refresh_per_second=8,
            transient=False,
            get_renderable=self._table,
        )
        self.live.start()

    def __call__(self, event: dict[str, Any], run: RunHandle) -> None:
        self.run = run

    def _table(self) -> Any:
        # start-up time: rich loads only when used
        from rich.table import Table

        run = self.run
        table = Table(title=f"run {run.id}: {run.state.state}" if run else "starting…")
        table.add_column("job / step")
        table.add_column("state")
        table.add_column("detail")
        if run is None:
            return table
        for name, job in list(run.state.jobs.items()):  # copied at once: the run moves on
            table.add_row(name, job.state, secrets.mask_text(job.prompt or job.reason or ""))
            keys = list(job.steps)[-self.TAIL :]
            for key in keys:
                step = job.steps.get(key)
                if step is not None:
                    detail = (step.error or "")[:80]
                    table.add_row(f"  {key}", step.state, secrets.mask_text(detail))
        return table

    def close(self) -> None:
        self.live.stop()


def make_progress(quiet: bool = False) -> PlainProgress | LiveProgress | None:
    if quiet:
        return None
    if sys.stderr.isatty():
        try:
            return LiveProgress()
        except ImportError:  # rich is optional
            pass
    return PlainProgress()
