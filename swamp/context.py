"""The namespaces expressions read: inputs, env, secrets (and, in a run,
steps, jobs and item)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from swamp import secrets
from swamp.definitions import Config


def base_context(config: Config, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """`inputs`, plus the env and secrets swamp.yaml allows (set ones only).

    Secret values are registered for masking as soon as they are read.
    """
    env = {k: os.environ[k] for k in sorted(config.env) if k in os.environ}
    secret_values = {k: os.environ[k] for k in sorted(config.secrets) if k in os.environ}
    secrets.register_all(secret_values.values())
    return {"inputs": dict(inputs), "env": env, "secrets": secret_values}


# What every step gets from the runner's environment, whatever swamp.yaml says:
# enough for programs to find themselves and speak the right language.
BASE_VARIABLES = ("PATH", "HOME", "LANG", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL")


def step_environment(config: Config | None = None) -> dict[str, str]:
    """The environment a step's process starts with: the base variables and
    LC_*, what swamp.yaml lists under `env`, and its declared secrets; nothing
    else (no GITHUB_TOKEN, no cloud credentials, unless listed)."""
    listed = set(config.env | config.secrets) if config is not None else set()
    out = {
        k: v
        for k, v in os.environ.items()
        if k in BASE_VARIABLES or k.startswith("LC_") or k in listed
    }
    if config is not None:
        secrets.register_all(os.environ[n] for n in sorted(config.secrets) if n in os.environ)
    return out
