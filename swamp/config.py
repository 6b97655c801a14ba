"""swamp.yaml's settings as typed values, and durations as swamp.yaml writes them.

Apart from the definitions (swamp/definitions.py) so that what only needs
the settings (`queue list`, through swamp/pins.py) does not build the
classes of every model and workflow part at start-up.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: float | str | None) -> float | None:
    """Seconds from 90, "90s", "1h30m" or "500ms"; None stays None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"invalid duration {value!r} (expected a finite number of seconds)")
        return float(value)
    total = 0.0
    pos = 0
    for m in _DURATION_PART.finditer(value):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(value) or not value:
        raise ValueError(f"invalid duration {value!r} (expected e.g. 30s, 5m, 1h30m)")
    return total


@dataclass(frozen=True)
class Window:
    name: str
    cron: str
    duration: float
    timezone: str = "UTC"


@dataclass(frozen=True)
class Approval:
    required: int = 0
    forbid_self_approval: bool = False
    api_url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"  # noqa: S105 - the variable's name, not a token
    repository: str | None = None


@dataclass(frozen=True)
class ServeSettings:
    """swamp.yaml's `serve:` section: what `swamp serve`'s API may do."""

    allow_start: tuple[str, ...] = ()
    mender_without_token: bool = False
    allow_register: bool = False

    def may_start(self, target: str) -> bool:
        return any(fnmatchcase(target, pattern) for pattern in self.allow_start)


@dataclass(frozen=True)
class Config:
    """swamp.yaml."""

    env: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()
    windows: Mapping[str, Window] = field(default_factory=dict)
    concurrency: int = 4
    step_timeout: float | None = None
    stop_grace: float = 5.0
    claim_timeout: float = 3600.0
    approval: Approval | None = None
    description: str = ""
    serve: ServeSettings = field(default_factory=ServeSettings)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Config:
        defaults = data.get("defaults") or {}
        serve = data.get("serve") or {}
        windows = {
            name: Window(
                name,
                w["cron"],
                parse_duration(w["duration"]) or 0.0,
                w.get("timezone", "UTC"),
            )
            for name, w in (data.get("windows") or {}).items()
        }
        a = data.get("approval")
        approval = (
            Approval(
                required=a.get("required", 1),
                forbid_self_approval=a.get("forbidSelfApproval", False),
                api_url=a.get("apiUrl", "https://api.github.com").rstrip("/"),
                token_env=a.get("tokenEnv", "GITHUB_TOKEN"),
                repository=a.get("repository"),
            )
            if a is not None
            else None
        )
        return cls(
            env=frozenset(data.get("env") or ()),
            secrets=frozenset(data.get("secrets") or ()),
            windows=windows,
            concurrency=defaults.get("concurrency", 4),
            step_timeout=parse_duration(defaults.get("stepTimeout")),
            stop_grace=_or(parse_duration(defaults.get("stopGrace")), 5.0),
            claim_timeout=_or(parse_duration(defaults.get("claimTimeout")), 3600.0),
            approval=approval,
            description=data.get("description", ""),
            serve=ServeSettings(
                allow_start=tuple(serve.get("allowStart") or ()),
                mender_without_token=bool(serve.get("menderWithoutToken", False)),
                allow_register=bool(serve.get("allowRegister", False)),
            ),
        )

    def to_data(self) -> dict[str, Any]:
        """swamp.yaml's shape again, such that `from_data` gives this Config
        back: what a cache keeps of a validated swamp.yaml."""
        defaults: dict[str, Any] = {
            "concurrency": self.concurrency,
            "stopGrace": self.stop_grace,
            "claimTimeout": self.claim_timeout,
        }
        if self.step_timeout is not None:
            defaults["stepTimeout"] = self.step_timeout
        data: dict[str, Any] = {
            "env": sorted(self.env),
            "secrets": sorted(self.secrets),
            "windows": {
                name: {"cron": w.cron, "duration": w.duration, "timezone": w.timezone}
                for name, w in self.windows.items()
            },
            "defaults": defaults,
            "description": self.description,
            "serve": {
                "allowStart": list(self.serve.allow_start),
                "menderWithoutToken": self.serve.mender_without_token,
                "allowRegister": self.serve.allow_register,
            },
        }
        a = self.approval
        if a is not None:
            data["approval"] = {
                "required": a.required,
                "forbidSelfApproval": a.forbid_self_approval,
                "apiUrl": a.api_url,
                "tokenEnv": a.token_env,
                **({"repository": a.repository} if a.repository is not None else {}),
            }
        return data


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
