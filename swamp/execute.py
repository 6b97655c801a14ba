"""Calling one model method: render its arguments, check them, execute."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from swamp import expressions, schemas, secrets, shell_script
from swamp.definitions import InlineTask, Method, Model
from swamp.types import registry
from swamp.types.base import ExecutionContext, Outcome


def render_call(
    model: Model, method: Method, context: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The rendered arguments, and the environment variables holding the
    values of the expansions in shell fields."""
    mtype = registry.get_type(model.type)
    shell_fields = mtype.methods[method.call].shell_fields
    variables: dict[str, str] = {}
    arguments = {}
    for key, value in method.arguments.items():
        if key in shell_fields and isinstance(value, str):
            arguments[key] = shell_script.render_script(value, context, variables)
        else:
            arguments[key] = expressions.render(value, context)
    return arguments, variables


def call_method(
    model: Model, method: Method, context: Mapping[str, Any], ctx: ExecutionContext
) -> Outcome:
    """Run one method call to its outcome; never raises for a user error."""
    try:
        arguments, variables = render_call(model, method, context)
    except expressions.ExpressionError as e:
        return Outcome(ok=False, error=secrets.mask_text(str(e)))
    ctx.shell_env = variables
    label = f"{model.name}.{method.name}"
    return _execute(model.type, method.call, arguments, label, ctx, static=_static(method))


def call_task(task: InlineTask, inputs: Mapping[str, Any], ctx: ExecutionContext) -> Outcome:
    """Run an inline task: its literal arguments with the step's rendered
    inputs merged over them."""
    return _execute(task.type, task.method, {**task.arguments, **inputs}, task.type, ctx)


def _execute(
    type_name: str,
    call: str,
    arguments: dict[str, Any],
    label: str,
    ctx: ExecutionContext,
    *,
    static: Method | None = None,
) -> Outcome:
    """`static`: the method, if its arguments hold no expression (so they
    render the same every time, and are checked once per process)."""
    mtype = registry.get_type(type_name)
    if static is None or _checked.get(id(static)) is not static:
        problems = schemas.messages(arguments, dict(mtype.methods[call].arguments), "argument")
        if problems:
            return Outcome(
                ok=False,
                error=secrets.mask_text(f"{label}: invalid arguments: " + "; ".join(problems)),
            )
        if static is not None:
            if len(_checked) >= _MAX_CHECKED:  # `swamp serve` loads repositories anew
                _checked.clear()
            _checked[id(static)] = static  # holding it keeps its id unique
    try:
        outcome = mtype.execute(call, arguments, ctx)
    except Exception as e:  # a type's own bug (often a plugin's) fails the step, not swamp
        error = f"model type {type_name} raised {type(e).__name__}: {e}"
        return Outcome(ok=False, error=secrets.mask_text(error))
    outcome.outputs = secrets.mask(_plain(outcome.outputs))
    if outcome.error:
        outcome.error = secrets.mask_text(outcome.error)
    return outcome


# Methods whose static arguments passed their check, by identity.
_MAX_CHECKED = 4096
_checked: dict[int, Method] = {}


def _static(method: Method) -> Method | None:
    """The method if its arguments hold no expression, else None."""
    found = _has_expressions.get(id(method))
    if found is None or found[0] is not method:
        texts = expressions.walk_strings(dict(method.arguments))
        found = (method, any(expressions.has_expression(text) for _, text in texts))
        if len(_has_expressions) >= _MAX_CHECKED:
            _has_expressions.clear()
        _has_expressions[id(method)] = found
    return None if found[1] else method


_has_expressions: dict[int, tuple[Method, bool]] = {}


def _plain(value: Any) -> Any:
    """Outputs are JSON data: anything else is turned into its JSON form."""
    result: Any = json.loads(json.dumps(value, default=str))
    return result
