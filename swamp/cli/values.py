"""Command-line values without pydantic, where typer would import it for nothing.

typer (0.2x) coerces the value of every option and argument but a flag
through a pydantic TypeAdapter, built when the command is parsed, even for
an option left at its default of None. Importing pydantic costs more than
the whole of `swamp queue list`. Plain strings and paths (no checks asked
of them) need no pydantic: they are converted here exactly as typer would
convert them, and every other value goes to typer's own coercion, built
only when a value is given. With a typer that has no such hook (older ones
convert through click), nothing is changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

_NOT_PLAIN = object()


def install() -> None:
    try:
        # start-up time: typer loads only when used
        from typer import _coercion, core
    except ImportError:  # pragma: no cover - a typer that converts through click
        return
    typer_build = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if typer_build is None or base is None or getattr(typer_build, "swamp", False):
        return  # pragma: no cover - another typer, or installed already
    typer_coercion: Callable[[Any], Any] = typer_build

    class Deferred(base):  # type: ignore[misc,valid-type]
        """typer's coercion, built on the first value that is not plain."""

        def __init__(self, descriptor: Any) -> None:
            super().__init__(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )
            object.__setattr__(self, "descriptor", descriptor)
            object.__setattr__(self, "built", None)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            converted = plain(self.annotation, self.parameter_info, value)
            if converted is not _NOT_PLAIN:
                return converted
            built = self.built or typer_coercion(self.descriptor)
            object.__setattr__(self, "built", built)
            return built._coerce_value(value, param, ctx)

    def build(descriptor: Any) -> Any:
        if getattr(descriptor, "file_annotation", None) is not None:
            return typer_coercion(descriptor)
        return Deferred(descriptor)

    build.swamp = True  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", build)  # noqa: B010 - typer's own name, not exported


def plain(annotation: Any, info: Any, value: Any) -> Any:
    """`value` converted as typer converts it, or _NOT_PLAIN when only typer
    (and pydantic) can say."""
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (None,)
        if not isinstance(value, list | tuple):
            return _NOT_PLAIN
        out = [plain(item, info, v) for v in value]
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in out) else out
    if not isinstance(value, str) or getattr(info, "parser", None) is not None:
        return _NOT_PLAIN
    if annotation is str:
        return value
    if annotation is Path and _unchecked_path(info) and value and "\0" not in value:
        # typer refuses an existing path it may not read (click's `readable`).
        path = Path(value)
        if info.readable and path.exists() and not os.access(path, os.R_OK):
            return _NOT_PLAIN
        return path
    return _NOT_PLAIN


def _unchecked_path(info: Any) -> bool:
    """A path option with none of the checks that typer would make."""
    return (
        not info.exists
        and info.file_okay
        and info.dir_okay
        and not info.writable
        and not info.resolve_path
        and not info.allow_dash
        and info.path_type is None
    )
