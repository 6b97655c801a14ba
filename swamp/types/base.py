"""The contract every model type fulfils."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class TypeMethod:
    """One method of a model type and the JSON Schema of its arguments."""

    name: str
    description: str
    arguments: Mapping[str, Any]
    # Arguments that are shell scripts (`run:`): each ${{ }} expansion in them
    # becomes a reference to an environment variable (`ExecutionContext.shell_env`).
    shell_fields: frozenset[str] = frozenset()


def _base_environment() -> dict[str, str]:
    # start-up time: loaded only on this path
    from swamp.context import step_environment

    return step_environment()


@dataclass
class ExecutionContext:
    """What a type may use while it executes one call."""

    workdir: Path
    timeout: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    # The values of the expansions in shell fields, by variable name: a type
    # that runs a shell field must put them in the shell's environment.
    shell_env: Mapping[str, str] = field(default_factory=dict)
    # The environment a process started for the call gets (context.step_environment).
    environment: Mapping[str, str] = field(default_factory=_base_environment)
    # After a stop or a timeout, how long a process gets between SIGTERM and
    # SIGKILL; `kill_now` set (a second Ctrl-C) skips what is left of it.
    grace: float = 5.0
    kill_now: threading.Event = field(default_factory=threading.Event)


@dataclass
class Outcome:
    """The result of one call: success, outputs, and a reason on failure."""

    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    stdout: str = ""
    stderr: str = ""


class ModelType(Protocol):
    """A model type, as registered under `swamp.model_types`."""

    name: str
    description: str
    methods: Mapping[str, TypeMethod]

    def execute(self, method: str, arguments: dict[str, Any], ctx: ExecutionContext) -> Outcome: ...
