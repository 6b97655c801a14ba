"""Typed, frozen values for the repository's files, built after validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The settings were defined here first; they are re-exported for their importers.
from swamp.config import Approval as Approval  # noqa: PLC0414
from swamp.config import Config as Config  # noqa: PLC0414
from swamp.config import ServeSettings as ServeSettings  # noqa: PLC0414
from swamp.config import Window as Window  # noqa: PLC0414
from swamp.config import parse_duration as parse_duration  # noqa: PLC0414
from swamp.loader import JsonPath

# How deep workflows may call workflows: validation refuses deeper chains, the engine stops them.
MAX_DEPTH = 8


def input_schema(*parts: Mapping[str, Any] | None) -> dict[str, Any]:
    """One object schema from the model's and the method's input schemas.

    Unknown inputs are refused unless a part says otherwise: an unknown input
    is almost always a typo.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    extra: Any = False
    for part in parts:
        if not part:
            continue
        properties.update(part.get("properties") or {})
        required.extend(r for r in part.get("required") or [] if r not in required)
        if "additionalProperties" in part:
            extra = part["additionalProperties"]
    rest = {}
    for part in parts:
        for k, v in (part or {}).items():
            if k not in ("properties", "required", "additionalProperties", "type"):
                rest[k] = v
    return {
        "type": "object",
        **rest,
        "properties": properties,
        "required": required,
        "additionalProperties": extra,
    }


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    call: str  # the model type's method
    inputs: Mapping[str, Any]  # merged object schema
    arguments: Mapping[str, Any]  # merged, unrendered
    idempotent: bool = False  # safe to call again when an outcome is unknown


@dataclass(frozen=True)
class Model:
    name: str
    type: str
    description: str
    methods: Mapping[str, Method]
    file: str
    digest: str


class Condition(StrEnum):
    """What a job or step needs of one it depends on (`dependsOn: [{name, condition}]`)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    COMPLETED = "completed"  # succeeded or failed
    ALWAYS = "always"  # finished in any way, skipped included


@dataclass(frozen=True)
class Dependency:
    name: str
    condition: Condition = Condition.SUCCEEDED


@dataclass(frozen=True)
class Retry:
    attempts: int
    delay: float = 1.0
    backoff: float = 1.0


@dataclass(frozen=True)
class InlineTask:
    """A step's task written in place rather than as a model method: a model
    type, its method and literal arguments. A workflow dialect's tasks are
    this; their arguments are the dialect's own data, never rendered as
    expressions (the step's rendered inputs are merged over them)."""

    type: str
    method: str
    arguments: Mapping[str, Any]
    summary: str = ""  # one line for graphs and plans, e.g. "PUT http://…"


@dataclass(frozen=True)
class Step:
    name: str
    model: str | None
    method: str | None
    workflow: str | None
    inputs: Mapping[str, Any]
    depends_on: tuple[Dependency, ...]
    timeout: float | None
    retry: Retry | None
    allow_failure: bool
    description: str
    path: JsonPath
    task: InlineTask | None = None
    # Safe to run again when its outcome is unknown (see engine/unknown.py).
    idempotent: bool = False

    @property
    def target(self) -> str:
        if self.task is not None:
            return self.task.type
        return f"workflow {self.workflow}" if self.workflow else f"{self.model}.{self.method}"


@dataclass(frozen=True)
class ForEach:
    items: list[Any] | str
    concurrency: int = 1
    tolerated_failures: int = 0


@dataclass(frozen=True)
class Checks:
    interval: float
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    depends_on: tuple[Dependency, ...]
    hold: str | None
    for_each: ForEach | None
    prechecks: tuple[Step, ...]
    checks: Checks | None
    steps: tuple[Step, ...]
    path: JsonPath


@dataclass(frozen=True)
class Workflow:
    name: str
    description: str
    inputs: Mapping[str, Any]
    jobs: Mapping[str, Job]
    file: str
    digest: str
    dialect: str = "swamp"


def dependencies(raw: list[Any] | None) -> tuple[Dependency, ...]:
    out = []
    for d in raw or []:
        if isinstance(d, str):
            out.append(Dependency(d))
        else:
            out.append(Dependency(d["name"], Condition(d.get("condition", "succeeded"))))
    return tuple(out)


def build_step(raw: Mapping[str, Any], path: JsonPath, previous: str | None) -> Step:
    # A step without dependsOn follows the one before it: steps are a list.
    if "dependsOn" in raw:
        deps = dependencies(raw["dependsOn"])
    else:
        deps = (Dependency(previous),) if previous else ()
    r = raw.get("retry")
    return Step(
        name=raw["name"],
        model=raw.get("model"),
        method=raw.get("method"),
        workflow=raw.get("workflow"),
        inputs=raw.get("inputs") or {},
        depends_on=deps,
        timeout=parse_duration(raw.get("timeout")),
        retry=(
            Retry(r["attempts"], parse_duration(r.get("delay", 1)) or 0.0, r.get("backoff", 1))
            if r
            else None
        ),
        allow_failure=bool(raw.get("allowFailure", False)),
        description=raw.get("description", ""),
        path=path,
        idempotent=bool(raw.get("idempotent", False)),
    )


def _parallel_steps(raw: list[Mapping[str, Any]], path: JsonPath) -> tuple[Step, ...]:
    return tuple(build_step(s, (*path, i), None) for i, s in enumerate(raw))


def build_job(name: str, raw: Mapping[str, Any], path: JsonPath) -> Job:
    steps = []
    previous: str | None = None
    for i, s in enumerate(raw["steps"]):
        steps.append(build_step(s, (*path, "steps", i), previous))
        previous = s["name"]
    fe = raw.get("forEach")
    ch = raw.get("checks")
    return Job(
        name=name,
        description=raw.get("description", ""),
        depends_on=dependencies(raw.get("dependsOn")),
        hold=raw.get("hold"),
        for_each=(
            ForEach(fe["items"], fe.get("concurrency", 1), fe.get("toleratedFailures", 0))
            if fe
            else None
        ),
        prechecks=_parallel_steps(raw.get("prechecks") or [], (*path, "prechecks")),
        checks=(
            Checks(
                parse_duration(ch.get("interval", 30)) or 0.0,
                _parallel_steps(ch["steps"], (*path, "checks", "steps")),
            )
            if ch
            else None
        ),
        steps=tuple(steps),
        path=path,
    )


def build_workflow(data: Mapping[str, Any], file: str, digest: str) -> Workflow:
    return Workflow(
        name=data["name"],
        description=data.get("description", ""),
        inputs=input_schema(data.get("inputs")),
        jobs={n: build_job(n, j, ("jobs", n)) for n, j in data["jobs"].items()},
        file=file,
        digest=digest,
    )


def build_model(data: Mapping[str, Any], file: str, digest: str, calls: dict[str, str]) -> Model:
    """`calls` maps each method name to the type method it calls (resolved)."""
    base_args = data.get("arguments") or {}
    methods = {
        name: Method(
            name=name,
            description=m.get("description", ""),
            call=calls[name],
            inputs=input_schema(data.get("inputs"), m.get("inputs")),
            arguments={**base_args, **(m.get("arguments") or {})},
            idempotent=bool(m.get("idempotent", False)),
        )
        for name, m in data["methods"].items()
    }
    return Model(
        name=data["name"],
        type=data["type"],
        description=data.get("description", ""),
        methods=methods,
        file=file,
        digest=digest,
    )
