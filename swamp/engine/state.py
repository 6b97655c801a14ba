"""The state of a run, as a fold over its journal's events.

The snapshot (snapshot.json) is this state written at rest points; it can
always be rebuilt from the journal, which is the source of truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from swamp.engine.journal import JOURNAL, read_events
from swamp.errors import SwampError
from swamp.fsutil import atomic_write

SNAPSHOT = "snapshot.json"
TERMINAL = frozenset({"succeeded", "failed", "skipped", "stopped", "cancelled"})
# Run states in which nothing executes and the run can be continued.
RESUMABLE = frozenset({"failed", "held", "paused", "stopped", "running", "created"})


@dataclass
class StepState:
    state: str = "pending"
    attempts: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started: str | None = None
    ended: str | None = None
    stdout: str = ""  # the tail, masked
    stderr: str = ""
    allowed: bool = False  # failed, but allowFailure says it does not count
    target: str = ""


@dataclass
class JobState:
    state: str = "pending"
    reason: str | None = None
    prompt: str | None = None
    released_by: str | None = None
    released_at: str | None = None
    started: str | None = None
    ended: str | None = None
    steps: dict[str, StepState] = field(default_factory=dict)


@dataclass
class RunState:
    id: str = ""
    kind: str = "workflow"
    workflow: str = ""
    target: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    state: str = "created"
    reason: str | None = None
    created: str = ""
    updated: str = ""
    by: str = ""
    concurrency: int = 4
    item: str | None = None
    # What a run of a queue item was started for: the digest of the item's
    # request fields and its pin. A resume checks them against the item.
    request: str = ""
    pin: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, JobState] = field(default_factory=dict)
    seq: int = 0

    def job(self, name: str) -> JobState:
        return self.jobs.setdefault(name, JobState())

    def failed_steps(self) -> list[tuple[str, str, StepState]]:
        """(job, step key, step) of every step that failed and counts (not
        allowed to fail), in the order they were recorded; the first one is
        "the failed step" of a run."""
        return [
            (j, k, s)
            for j, job in self.jobs.items()
            for k, s in job.steps.items()
            if s.state == "failed" and not s.allowed
        ]

    def apply(self, e: dict[str, Any]) -> None:
        kind = e["type"]
        self.seq = e.get("seq", self.seq)
        self.updated = e.get("at", self.updated)
        if kind == "run-created":
            self.id = e["run"]
            self.kind = e.get("kind", "workflow")
            self.workflow = e.get("workflow", "")
            self.target = e.get("target", self.workflow)
            self.inputs = e.get("inputs", {})
            self.by = e.get("by", "")
            self.concurrency = e.get("concurrency", 4)
            self.item = e.get("item")
            self.request = e.get("request") or ""
            self.pin = e.get("pin") or {}
            self.created = e.get("at", "")
            for name in e.get("jobs", []):
                self.job(name)
        elif kind == "run-state":
            self.state = e["state"]
            self.reason = e.get("reason")
        elif kind == "job-state":
            job = self.job(e["job"])
            job.state = e["state"]
            job.reason = e.get("reason")
            if "prompt" in e:
                job.prompt = e["prompt"]
            if e["state"] == "running" and job.started is None:
                job.started = e.get("at")
            if e["state"] in TERMINAL:
                job.ended = e.get("at")
        elif kind == "job-released":
            job = self.job(e["job"])
            job.released_by = e.get("by")
            job.released_at = e.get("at")
        elif kind == "job-reset":
            job = self.job(e["job"])
            job.state, job.reason, job.ended = "pending", None, None
        elif kind == "step-started":
            step = self.job(e["job"]).steps.setdefault(e["step"], StepState())
            step.state = "running"
            step.attempts = e.get("attempt", step.attempts + 1)
            step.started = e.get("at")
            step.ended = None
            step.error = None
            step.target = e.get("target", step.target)
        elif kind == "step-finished":
            step = self.job(e["job"]).steps.setdefault(e["step"], StepState())
            step.state = e["state"]
            step.outputs = e.get("outputs", {})
            step.error = e.get("error")
            step.ended = e.get("at")
            step.stdout = e.get("stdout", "")
            step.stderr = e.get("stderr", "")
            step.allowed = bool(e.get("allowed", False))
            if "attempt" in e:
                step.attempts = e["attempt"]
            if e.get("started"):
                step.started = e["started"]
        elif kind == "step-reset":
            self.job(e["job"]).steps.pop(e["step"], None)

    def outputs(self) -> dict[str, Any]:
        """jobs.<job>.steps.<step>.outputs of every succeeded step."""
        return {
            name: {
                "steps": {
                    key: {"outputs": s.outputs}
                    for key, s in job.steps.items()
                    if s.state == "succeeded"
                }
            }
            for name, job in self.jobs.items()
        }

    def to_dict(self) -> dict[str, Any]:
        # Shallow copies, not dataclasses.asdict: its deep copy of every
        # step's outputs made the snapshot of a long run slow.
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "jobs"}
        data["jobs"] = {
            name: {
                **{f.name: getattr(job, f.name) for f in fields(job) if f.name != "steps"},
                "steps": {key: vars(step).copy() for key, step in job.steps.items()},
            }
            for name, job in self.jobs.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        jobs = {
            name: JobState(
                **{k: v for k, v in j.items() if k != "steps"},
                steps={k: StepState(**s) for k, s in j.get("steps", {}).items()},
            )
            for name, j in data.get("jobs", {}).items()
        }
        return cls(**{k: v for k, v in data.items() if k != "jobs"}, jobs=jobs)


def load_state(run_dir: Path) -> RunState:
    """The run's state: the snapshot, then every later journal event."""
    state = RunState()
    snap = run_dir / SNAPSHOT
    if snap.is_file():
        try:
            state = RunState.from_dict(json.loads(snap.read_text("utf-8")))
        except (ValueError, TypeError):
            state = RunState()  # a damaged snapshot is rebuilt from the journal
    journal = run_dir / JOURNAL
    n = 1
    try:
        for n, event in enumerate(read_events(journal), 1):  # noqa: B007 - n is reported
            if event.get("seq", 0) > state.seq:
                state.apply(event)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        # A damaged or hand-written journal is refused in one line, never a crash.
        raise SwampError(
            f"{run_dir.parent.name}/{run_dir.name}/{JOURNAL}: event {n}: not a valid "
            f"journal event ({type(e).__name__}: {str(e)[:80]})"
        ) from None
    return state


def write_snapshot(run_dir: Path, state: RunState) -> None:
    # Compact: the C encoder is used only without indentation.
    # Not fsynced: the journal is the source of truth, and a snapshot lost
    # or damaged by a crash is rebuilt from it (load_state).
    atomic_write(
        run_dir / SNAPSHOT,
        json.dumps(state.to_dict(), separators=(",", ":"), ensure_ascii=False, default=str),
        fsync=False,
    )
