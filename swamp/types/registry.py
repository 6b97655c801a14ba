"""Find a model type by name: built-ins first, then the entry-point group
`swamp.model_types` (a package registers `name = "module:Class"`, where the
entry point's name is the type name, such as `acme/ldap`)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
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
    "mender/nats": "swamp.mender.messaging:MenderNatsType",
    "mender/smtp": "swamp.mender.messaging:MenderSmtpType",
}


@cache
def _plugins() -> dict[str, object]:
    from importlib.metadata import entry_points  # start-up time: only plugins need it

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
    builtins = {**BUILTINS, **DIALECT_TYPES}
    if name in builtins:
        module, _, attr = builtins[name].partition(":")
        builtin: ModelType = getattr(importlib.import_module(module), attr)()
        return builtin
    if name not in _plugins():
        raise SwampError(f"unknown model type {name!r} (known: {', '.join(known_types())})")
    try:
        cls = _plugins()[name].load()  # type: ignore[attr-defined]
        instance = cls() if isinstance(cls, type) else cls
    except Exception as e:  # a broken plugin must not crash swamp
        raise SwampError(f"model type {name!r} failed to load: {e}") from None
    _check_plugin(name, instance)
    plugin: ModelType = instance
    return plugin


def _check_plugin(name: str, instance: object) -> None:
    """Refuse a plugin that does not fulfil the ModelType contract, plainly."""
    methods = getattr(instance, "methods", None)
    wrong = None
    if not callable(getattr(instance, "execute", None)):
        wrong = "it has no execute() method"
    elif not isinstance(methods, Mapping) or not methods:
        wrong = "its `methods` is not a mapping of method names to TypeMethod"
    else:
        for key, method in methods.items():
            if not isinstance(getattr(method, "arguments", None), Mapping):
                wrong = f"method {key!r} has no `arguments` schema"
                break
    if wrong:
        raise SwampError(f"model type {name!r} is not usable: {wrong}")
