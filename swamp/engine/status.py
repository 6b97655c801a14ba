"""The states of steps, jobs and runs.

Apart from state.py so that the journal's typed events (events.py), which
state.py folds, can carry them without an import cycle.
"""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"  # in flight; after a crash, its outcome is unknown
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a condition on what it depends on cannot hold
    STOPPED = "stopped"  # terminated by `swamp run stop`: its outcome is unknown
    INTERRUPTED = "interrupted"  # terminated by a signal: its outcome is unknown


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    HELD = "held"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    STOPPED = "stopped"


class RunStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    HELD = "held"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    CANCELLED = "cancelled"  # its queue item was purged: never continued
    INTERRUPTED = "interrupted"
