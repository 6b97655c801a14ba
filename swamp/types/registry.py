"""Find a model type by name: built-ins first, then the entry-point group
`swamp.model_types` (a package registers `name = "module:Class"`, where the
entry point's name is the type name, such as `acme/ldap`)."""

from __future__ import annotations

import importlib
from functools import cache

from swamp.errors import SwampError
from swamp.types.base import ModelType

ENTRY_POINT_GROUP = "swamp.model_types"

BUILTINS = {
    "command/shell": "swamp.types.shell:ShellType",
    "http/request": "swamp.types.http:HttpType",
    "swamp/echo": "swamp.types.echo:EchoType",
}
# Types that only a workflow dialect's inline tasks use; models cannot name them.
DIALECT_TYPES = {
    "mender/http": "swamp.mender.tasks:MenderHttpType",
    "mender/cli": "swamp.mender.tasks:MenderCliType",
}


@cache
def _plugins() -> dict[str, object]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_types() -> list[str]:
    return sorted(set(BUILTINS) | set(_plugins()))


def has_type(name: str) -> bool:
    return name in BUILTINS or name in _plugins()


def has_task_type(name: str) -> bool:
    """Whether an inline task may name this type (dialect types too)."""
    return name in DIALECT_TYPES or has_type(name)


@cache
def get_type(name: str) -> ModelType:
    """The model type called `name`, instantiated once per process."""
    if name in BUILTINS or name in DIALECT_TYPES:
        module, _, attr = {**BUILTINS, **DIALECT_TYPES}[name].partition(":")
        cls = getattr(importlib.import_module(module), attr)
    elif name in _plugins():
        ep = _plugins()[name]
        try:
            cls = ep.load()  # type: ignore[attr-defined]
        except Exception as e:  # a broken plugin must not crash swamp
            raise SwampError(f"model type {name!r} failed to load: {e}") from None
    else:
        raise SwampError(f"unknown model type {name!r} (known: {', '.join(known_types())})")
    instance: ModelType = cls() if isinstance(cls, type) else cls
    return instance
