"""The events of a run's journal, as typed values.

Each line of runs/<id>/journal.jsonl is one event: `seq`, `at`, `type` and
the fields of its type. Here is every type (EventType), one frozen class per
type with its fields typed (states as their enums), and the two functions
that cross the line's JSON: `load` (a line's object to its typed event, the
one reader; journal.read_events uses it) and `to_dict` (the reverse;
`to_line` is the line journal.Journal.write appends). Code past the journal handles these values,
never the dicts, so mypy checks every reader and `match` over `Event` is
exhaustive.

The line format is the one swamp has always written; a field whose value is
None is left out, and an absent field reads as its default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeAlias, TypeVar

from swamp.engine.status import JobStatus, RunStatus, StepStatus


class EventType(StrEnum):
    RUN_CREATED = "run-created"
    INPUTS_IGNORED = "inputs-ignored"  # declared by no input: a Mender workflow ignores them
    RUN_STATE = "run-state"
    JOB_STATE = "job-state"
    JOB_RELEASED = "job-released"
    JOB_RESET = "job-reset"
    STEP_STARTED = "step-started"
    STEP_FINISHED = "step-finished"
    STEP_RESET = "step-reset"
    UNKNOWN_RERUN = "unknown-rerun"  # an operator let steps of unknown outcome run again
    SERVE_ACCEPTED = "serve-accepted"  # swamp serve took the run on
    SERVE_DRAINED = "serve-drained"  # swamp serve stopped it when shutting down
    API_REQUEST = "api-request"  # an action asked through serve's API, and by whom


class BadEvent(ValueError):
    """An object that is not an event swamp writes: what is wrong with it
    (journal.read_events names the file and line)."""


@dataclass(frozen=True, slots=True)
class EventBase:
    """What every event has; `TYPE` is its kind, the line's `type`."""

    TYPE: ClassVar[EventType]
    seq: int  # the event's place in its journal, from 1
    at: str  # when it was written: ISO 8601, UTC


# Subclasses' fields are keyword-only: a journal stamps `seq` and `at`
# (Journal.write(StepStarted, job=..., ...)), the caller gives the rest.


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCreated(EventBase):
    """A run began: what it runs, for whom, and its jobs."""

    TYPE = EventType.RUN_CREATED
    run: str
    # Defaults for journals written by hand (tests of planted journals):
    # swamp writes every field.
    kind: str = "workflow"
    workflow: str = ""
    target: str = ""  # empty: the workflow's name
    inputs: dict[str, Any] = field(default_factory=dict)
    by: str = ""
    concurrency: int = 4
    item: str | None = None
    request: str | None = None  # the digest of the item's request fields
    pin: dict[str, str] | None = None
    jobs: tuple[str, ...] = ()
    pid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InputsIgnored(EventBase):
    """Inputs given but declared by no input, which a Mender workflow ignores."""

    TYPE = EventType.INPUTS_IGNORED
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStateSet(EventBase):
    """The run's state changed (run-state)."""

    TYPE = EventType.RUN_STATE
    state: RunStatus
    reason: str | None = None
    # `job/step` of the steps a signal stopped in flight (an interrupted run).
    in_flight: tuple[str, ...] | None = field(default=None, metadata={"key": "inFlight"})


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStateSet(EventBase):
    """A job's state changed (job-state)."""

    TYPE = EventType.JOB_STATE
    job: str
    state: JobStatus
    reason: str | None = None
    prompt: str | None = None  # a hold's, rendered


@dataclass(frozen=True, slots=True, kw_only=True)
class JobReleased(EventBase):
    """A held job was released, and by whom."""

    TYPE = EventType.JOB_RELEASED
    job: str
    by: str | None = None
    commit: str | None = None  # the reviewed commit that staged the release


@dataclass(frozen=True, slots=True, kw_only=True)
class JobReset(EventBase):
    """A job goes back to pending, to run again (resume, retry)."""

    TYPE = EventType.JOB_RESET
    job: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(EventBase):
    """An attempt of a step began."""

    TYPE = EventType.STEP_STARTED
    job: str
    step: str  # the step's key: its name, `name[3]` in a forEach, `precheck:name`
    attempt: int
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished(EventBase):
    """A step's outcome: its last attempt's, or why it was skipped."""

    TYPE = EventType.STEP_FINISHED
    job: str
    step: str
    state: StepStatus
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempt: int | None = None  # None: never attempted (skipped)
    stdout: str = ""  # the tail, masked
    stderr: str = ""
    allowed: bool = False  # failed, but allowFailure says it does not count


@dataclass(frozen=True, slots=True, kw_only=True)
class StepReset(EventBase):
    """A step is forgotten, to run again (resume, retry)."""

    TYPE = EventType.STEP_RESET
    job: str
    step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownRerun(EventBase):
    """An operator let steps whose outcome is unknown run again."""

    TYPE = EventType.UNKNOWN_RERUN
    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeAccepted(EventBase):
    """swamp serve took the run on (it continues it after a restart)."""

    TYPE = EventType.SERVE_ACCEPTED
    by: str
    via: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeDrained(EventBase):
    """swamp serve stopped the run when shutting down (the next start continues it)."""

    TYPE = EventType.SERVE_DRAINED
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiRequest(EventBase):
    """An action asked through serve's API, and who asked."""

    TYPE = EventType.API_REQUEST
    action: str
    by: str
    step: str | None = None  # a retry's
    rerun_unknown: bool | None = field(default=None, metadata={"key": "rerunUnknown"})


Event: TypeAlias = (
    RunCreated
    | InputsIgnored
    | RunStateSet
    | JobStateSet
    | JobReleased
    | JobReset
    | StepStarted
    | StepFinished
    | StepReset
    | UnknownRerun
    | ServeAccepted
    | ServeDrained
    | ApiRequest
)

P = ParamSpec("P")
E = TypeVar("E", bound=Event)
# An event's class, as a journal calls it: cls(seq, at, **fields). Functions
# that record take one and the fields, so mypy checks the fields against it.
EventClass: TypeAlias = Callable[Concatenate[int, str, P], E]

# -- the line's JSON object <-> the typed event ---------------------------------


def to_dict(event: EventBase) -> dict[str, Any]:
    """The event as its journal line's object: `seq`, `at`, `type`, then its
    fields in order, those that are None left out."""
    data: dict[str, Any] = {"seq": event.seq, "at": event.at, "type": event.TYPE}
    for name, key in _KEYS[type(event)]:
        value = getattr(event, name)
        if value is not None:
            data[key] = value
    return data


def to_line(event: EventBase) -> str:
    """The event's journal line, newline included: compact JSON."""
    return _ENCODER.encode(to_dict(event)) + "\n"


# Built once: json.dumps with options builds an encoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def load(data: dict[str, Any]) -> Event:
    """The typed event of a journal line's object (its `seq` an int already);
    BadEvent says what is wrong with it."""
    kind = data.get("type")
    cls = _CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise BadEvent(f"an event of an unknown type {_shown(kind)}")
    values: dict[str, Any] = {}
    for name, key, check, required in _SPECS[cls]:
        value = data.get(key)
        if value is None:
            if required:
                raise BadEvent(f"a {kind} event without {key!r}")
            continue  # its default
        try:
            values[name] = check(value)
        except _Wrong as e:
            raise BadEvent(f"a {kind} event with a wrong value ({key}: {e})") from None
        except (ValueError, TypeError) as e:  # a state its enum does not know
            raise BadEvent(f"a {kind} event with a wrong value ({e})") from None
    at = data.get("at")
    if not isinstance(at, str):
        raise BadEvent(f"a {kind} event without 'at' (when it was written)")
    event: Event = cls(data["seq"], at, **values)
    return event


class _Wrong(Exception):
    pass


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is(test: Callable[[Any], bool], expected: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not test(value):
            raise _Wrong(f"expected {expected}, got {_shown(value)}")
        return value

    return check


def _strings(value: Any) -> tuple[str, ...]:
    if not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
        raise _Wrong(f"expected a list of strings, got {_shown(value)}")
    return tuple(value)


# The check of each field type, by its annotation (`X | None` is X's: None
# never reaches a check). An enum raises ValueError for a state it does not know.
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "str": _is(lambda v: isinstance(v, str), "a string"),
    "int": _is(lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "bool": _is(lambda v: isinstance(v, bool), "true or false"),
    "dict[str, Any]": _is(lambda v: isinstance(v, dict), "an object"),
    "dict[str, str]": _is(
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "an object of strings",
    ),
    "tuple[str, ...]": _strings,
    "StepStatus": StepStatus,
    "JobStatus": JobStatus,
    "RunStatus": RunStatus,
}


_CLASSES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        RunCreated,
        InputsIgnored,
        RunStateSet,
        JobStateSet,
        JobReleased,
        JobReset,
        StepStarted,
        StepFinished,
        StepReset,
        UnknownRerun,
        ServeAccepted,
        ServeDrained,
        ApiRequest,
    )
}
assert set(_CLASSES) == set(EventType), "one class per event type"


def _specs() -> tuple[
    dict[type[EventBase], tuple[tuple[str, str], ...]],
    dict[type[EventBase], tuple[tuple[str, str, Callable[[Any], Any], bool], ...]],
]:
    """Per class: (field, key) in order, and (field, key, check, required)."""
    keys: dict[type[EventBase], tuple[tuple[str, str], ...]] = {}
    specs: dict[type[EventBase], tuple[tuple[str, str, Callable[[Any], Any], bool], ...]] = {}
    for cls in _CLASSES.values():
        own = [f for f in fields(cls) if f.name not in ("seq", "at")]
        keys[cls] = tuple((f.name, f.metadata.get("key", f.name)) for f in own)
        specs[cls] = tuple(
            (
                f.name,
                f.metadata.get("key", f.name),
                _CHECKS[str(f.type).removesuffix(" | None")],
                f.default is MISSING and f.default_factory is MISSING,
            )
            for f in own
        )
    return keys, specs


# Worked out once: to_dict is on the path of every step.
_KEYS, _SPECS = _specs()
