"""Calling one model method: render its arguments, check them, execute."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from swamp import expressions, schemas, secrets
from swamp.definitions import Method, Model
from swamp.types import registry
from swamp.types.base import ExecutionContext, Outcome


def render_arguments(model: Model, method: Method, context: Mapping[str, Any]) -> dict[str, Any]:
    """The method's arguments with expressions evaluated; expansions in shell
    fields (a `run:` script) are shell-quoted."""
    mtype = registry.get_type(model.type)
    shell_fields = mtype.methods[method.call].shell_fields
    return {
        key: expressions.render(value, context, shell=key in shell_fields)
        for key, value in method.arguments.items()
    }


def call_method(
    model: Model, method: Method, context: Mapping[str, Any], ctx: ExecutionContext
) -> Outcome:
    """Run one method call to its outcome; never raises for a user error."""
    mtype = registry.get_type(model.type)
    try:
        arguments = render_arguments(model, method, context)
    except expressions.ExpressionError as e:
        return Outcome(ok=False, error=secrets.mask_text(str(e)))
    problems = _argument_problems(method, arguments, mtype.methods[method.call].arguments)
    if problems:
        return Outcome(
            ok=False,
            error=secrets.mask_text(
                f"{model.name}.{method.name}: invalid arguments: " + "; ".join(problems)
            ),
        )
    outcome = mtype.execute(method.call, arguments, ctx)
    outcome.outputs = secrets.mask(_plain(outcome.outputs))
    if outcome.error:
        outcome.error = secrets.mask_text(outcome.error)
    return outcome


# Arguments without expressions render to the same value every time: they are
# checked once per process, not at every step.
_static_checked: dict[int, tuple[Method, list[str]]] = {}


def _argument_problems(
    method: Method, arguments: dict[str, Any], schema: Mapping[str, Any]
) -> list[str]:
    hit = _static_checked.get(id(method))
    if hit is not None and hit[0] is method:
        return hit[1]
    problems = schemas.messages(arguments, schema, "argument")
    static = not any(
        expressions.has_expression(text) for _, text in expressions.walk_strings(method.arguments)
    )
    if static:
        _static_checked[id(method)] = (method, problems)
    return problems


def _plain(value: Any) -> Any:
    """Outputs are JSON data: anything else is turned into its JSON form."""
    result: Any = json.loads(json.dumps(value, default=str))
    return result
