"""The state of a run, as a fold over its journal's events.

The snapshot (snapshot.json) is this state written at rest points; it can
always be rebuilt from the journal, which is the source of truth.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, assert_never

from swamp.engine.events import (
    ApiRequest,
    Event,
    InputsIgnored,
    JobReleased,
    JobReset,
    JobStateSet,
    RunCreated,
    RunStateSet,
    ServeAccepted,
    ServeDrained,
    StepFinished,
    StepReset,
    StepStarted,
    UnknownRerun,
)
from swamp.engine.journal import JOURNAL, CorruptRun, read_events
from swamp.engine.status import JobStatus, RunStatus, StepStatus
from swamp.fsutil import atomic_write

# The states are defined in status.py (events carry them too); most code
# imports them from here, with the state that holds them.
__all__ = [
    "SNAPSHOT",
    "JobState",
    "JobStatus",
    "RunState",
    "RunStatus",
    "StepState",
    "StepStatus",
    "finished",
    "load_state",
    "outcome_unknown",
    "write_snapshot",
]

SNAPSHOT = "snapshot.json"


def finished(status: StepStatus | JobStatus) -> bool:
    """Whether a step or job in `status` does not change again in this invocation."""
    match status:
        case (
            StepStatus.SUCCEEDED
            | StepStatus.FAILED
            | StepStatus.SKIPPED
            | StepStatus.STOPPED
            | StepStatus.INTERRUPTED
            | JobStatus.SUCCEEDED
            | JobStatus.FAILED
            | JobStatus.SKIPPED
            | JobStatus.STOPPED
        ):
            return True
        case (
            StepStatus.PENDING
            | StepStatus.RUNNING
            | JobStatus.PENDING
            | JobStatus.RUNNING
            | JobStatus.HELD
        ):
            return False
        case _:
            assert_never(status)


def outcome_unknown(status: StepStatus) -> bool:
    """Whether a step in `status` may have acted without a recorded result."""
    match status:
        case StepStatus.RUNNING | StepStatus.INTERRUPTED | StepStatus.STOPPED:
            # In flight when swamp died, or terminated by a signal or by
            # `swamp run stop`: it may have acted before it was cut off.
            return True
        case StepStatus.PENDING | StepStatus.SUCCEEDED | StepStatus.FAILED | StepStatus.SKIPPED:
            return False
        case _:
            assert_never(status)


@dataclass
class StepState:
    state: StepStatus = StepStatus.PENDING
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
    state: JobStatus = JobStatus.PENDING
    reason: str | None = None
    prompt: str | None = None
    released_by: str | None = None
    released_at: str | None = None
    released_commit: str | None = None  # the reviewed commit that staged the release
    started: str | None = None
    ended: str | None = None
    steps: dict[str, StepState] = field(default_factory=dict)

    def step(self, key: str) -> StepState:
        step = self.steps.get(key)
        if step is None:
            step = self.steps[key] = StepState()
        return step


@dataclass
class RunState:
    id: str = ""
    kind: str = "workflow"
    workflow: str = ""
    target: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    # Inputs given but not declared, which a Mender workflow ignores (as Mender does).
    ignored_inputs: list[str] = field(default_factory=list)
    state: RunStatus = RunStatus.CREATED
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
        job = self.jobs.get(name)  # not setdefault: no JobState built per event
        if job is None:
            job = self.jobs[name] = JobState()
        return job

    def failed_steps(self) -> list[tuple[str, str, StepState]]:
        """(job, step key, step) of every step that failed and counts (not
        allowed to fail), in the order they were recorded; the first one is
        "the failed step" of a run."""
        return [
            (j, k, s)
            for j, job in self.jobs.items()
            for k, s in job.steps.items()
            if s.state == StepStatus.FAILED and not s.allowed
        ]

    def interrupted_steps(self) -> list[str]:
        """`job/step` of every step a signal stopped in flight."""
        return [
            f"{j}/{k}"
            for j, job in self.jobs.items()
            for k, s in job.steps.items()
            if s.state == StepStatus.INTERRUPTED
        ]

    def apply(self, e: Event) -> None:
        self.seq = e.seq
        self.updated = e.at
        # Cases are tried in order: a step's events, most of a journal, first.
        match e:
            case StepStarted():
                step = self.job(e.job).step(e.step)
                step.state = StepStatus.RUNNING
                step.attempts = e.attempt
                step.started = e.at
                step.ended = None
                step.error = None
                step.target = e.target
            case StepFinished():
                step = self.job(e.job).step(e.step)
                step.state = e.state
                step.outputs = e.outputs
                step.error = e.error
                step.ended = e.at
                step.stdout = e.stdout
                step.stderr = e.stderr
                step.allowed = e.allowed
                if e.attempt is not None:
                    step.attempts = e.attempt
            case RunCreated():
                self.id = e.run
                self.kind = e.kind
                self.workflow = e.workflow
                self.target = e.target or e.workflow
                self.inputs = e.inputs
                self.by = e.by
                self.concurrency = e.concurrency
                self.item = e.item
                self.request = e.request or ""
                self.pin = e.pin or {}
                self.created = e.at
                for name in e.jobs:
                    self.job(name)
            case InputsIgnored():
                self.ignored_inputs = list(e.names)
            case RunStateSet():
                self.state = e.state
                self.reason = e.reason
            case JobStateSet():
                job = self.job(e.job)
                job.state = e.state
                job.reason = e.reason
                if e.prompt is not None:
                    job.prompt = e.prompt
                if job.state == JobStatus.RUNNING and job.started is None:
                    job.started = e.at
                if finished(job.state):
                    job.ended = e.at
            case JobReleased():
                job = self.job(e.job)
                job.released_by = e.by
                job.released_at = e.at
                job.released_commit = e.commit
            case JobReset():
                job = self.job(e.job)
                job.state, job.reason, job.ended = JobStatus.PENDING, None, None
            case StepReset():
                self.job(e.job).steps.pop(e.step, None)
            case UnknownRerun() | ServeAccepted() | ServeDrained() | ApiRequest():
                pass  # an audit: it changes no state
            case _:
                assert_never(e)

    def outputs(self) -> dict[str, Any]:
        """jobs.<job>.steps.<step>.outputs of every succeeded step."""
        return {
            name: {
                "steps": {
                    key: {"outputs": s.outputs}
                    for key, s in job.steps.items()
                    if s.state == StepStatus.SUCCEEDED
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
        # States become their enums here: an unknown one raises ValueError,
        # and the snapshot is then rebuilt from the journal.
        jobs = {
            name: JobState(
                **{k: v for k, v in j.items() if k not in ("steps", "state")},
                state=JobStatus(j.get("state", "pending")),
                steps={
                    k: StepState(
                        **{f: v for f, v in s.items() if f != "state"},
                        state=StepStatus(s.get("state", "pending")),
                    )
                    for k, s in j.get("steps", {}).items()
                },
            )
            for name, j in data.get("jobs", {}).items()
        }
        return cls(
            **{k: v for k, v in data.items() if k not in ("jobs", "state")},
            state=RunStatus(data.get("state", "created")),
            jobs=jobs,
        )


def load_state(run_dir: Path) -> RunState:
    """The run's state: the snapshot, then every later journal event.

    The journal is the source of truth; the snapshot is a cache of its fold,
    used only while the journal still starts with the very bytes it was
    folded from. A damaged or stale snapshot (one written before snapshots
    said what they were folded from, or one whose journal was edited since)
    is rebuilt from the journal. A journal that ends before its snapshot was
    cut by something other than a crash of swamp: continuing would run again
    what the snapshot says is done, so it raises CorruptRun, like any damage
    in the journal.
    """
    journal = run_dir / JOURNAL
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        data = b""
    state = RunState()
    snap = run_dir / SNAPSHOT
    if snap.is_file():
        try:
            saved = json.loads(snap.read_text("utf-8"))
            folded = saved.pop(_FOLDED, None)
            state = RunState.from_dict(saved)
            if not isinstance(state.seq, int):
                raise TypeError("seq")
            if not _folded_from(folded, data):
                state = RunState()  # stale: rebuilt from the journal below
        except (ValueError, TypeError, AttributeError, KeyError):
            state = RunState()  # rebuilt from the journal below
    last = 0
    for _, event in read_events(journal, data):
        last = event.seq
        if last > state.seq:
            state.apply(event)
    if last < state.seq:
        raise CorruptRun(
            journal,
            None,
            f"ends at event {last}, but {SNAPSHOT} records events up to {state.seq} "
            "(the journal was cut)",
        )
    return state


# The snapshot's own key: the length and digest of the journal it was folded from.
_FOLDED = "foldedFrom"


def _folded_from(folded: Any, data: bytes) -> bool:
    """Whether a snapshot folded from `folded` still stands for the journal
    `data`: it begins with those bytes. A journal shorter than them stands
    too, so that load_state says it was cut."""
    if not (
        isinstance(folded, dict)
        and isinstance(folded.get("bytes"), int)
        and isinstance(folded.get("sha256"), str)
    ):
        return False
    size: int = folded["bytes"]
    digest: str = folded["sha256"]
    return len(data) < size or hashlib.sha256(data[:size]).hexdigest() == digest


def write_snapshot(run_dir: Path, state: RunState) -> None:
    """The state, with what it was folded from: the journal as it is now,
    since the owner of the run writes it after its last event."""
    try:
        journal = (run_dir / JOURNAL).read_bytes()
    except FileNotFoundError:
        journal = b""
    saved = state.to_dict()
    saved[_FOLDED] = {"bytes": len(journal), "sha256": hashlib.sha256(journal).hexdigest()}
    # Compact: the C encoder is used only without indentation.
    # Not fsynced: the journal is the source of truth, and a snapshot lost
    # or damaged by a crash is rebuilt from it (load_state).
    atomic_write(
        run_dir / SNAPSHOT,
        json.dumps(saved, separators=(",", ":"), ensure_ascii=False, default=str),
        fsync=False,
    )
