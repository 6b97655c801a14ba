"""Secret values and their masking.

Every secret value read through `secrets.NAME` is registered here; anything
swamp prints or writes passes through `mask()` first. Masking is
process-wide on purpose: an error message built deep in a model type is masked
at the CLI boundary without being threaded through every call.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from swamp.definitions import Config

MASK = "***"
# Shorter values would mask ordinary words everywhere; the README says so.
MIN_SECRET_LENGTH = 3

_lock = threading.Lock()
_values: set[str] = set()
_ordered: list[str] = []


def register(value: str) -> None:
    """Mask `value` from now on, and the spellings it takes in the text swamp
    handles: shell-quoted, JSON-escaped (also twice: JSON in a JSON string,
    as an API that echoes a request shows it) and URL-encoded."""
    if len(value) < MIN_SECRET_LENGTH:
        return
    import shlex  # start-up: most commands register no secret

    escaped = json.dumps(value)[1:-1]
    variants = {
        value,
        shlex.quote(value),
        escaped,
        json.dumps(escaped)[1:-1],
        quote(value, safe=""),
        quote_plus(value, safe=""),
    }
    with _lock:
        new = variants - _values
        if not new:
            return
        _values.update(new)
        # Longest first, so a secret containing another is masked whole.
        _ordered[:] = sorted(_values, key=len, reverse=True)


def register_all(values: Iterable[str]) -> None:
    for v in values:
        register(v)


def mask_configured(config: Config) -> None:
    """Mask the values of the secrets swamp.yaml names, and of the forge token
    swamp itself uses, from the start: before anything is printed or journaled."""
    register_all(os.environ[n] for n in sorted(config.secrets) if n in os.environ)
    policy = config.approval
    if policy is not None and os.environ.get(policy.token_env):
        register(os.environ[policy.token_env])


def clear() -> None:
    """Forget every registered secret (tests, and a long-lived process)."""
    with _lock:
        _values.clear()
        _ordered.clear()


def active() -> bool:
    """Whether any secret is registered (so that masking can change a value)."""
    return bool(_ordered)


def mask_text(text: str) -> str:
    if not _ordered:
        return text
    for v in _ordered:
        if v in text:
            text = text.replace(v, MASK)
    return text


def mask(value: Any) -> Any:
    """A copy of `value` with every secret in every string replaced by ***."""
    if not _ordered:
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {mask_text(str(k)): mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value
