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
