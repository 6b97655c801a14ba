"""swamp/echo: a side-effect-free type for examples and tests.

It returns its `values` as outputs, and on request sleeps (honouring stop and
timeouts) or fails with a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swamp.types.base import ExecutionContext, Outcome, TypeMethod

ARGUMENTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "values": {"description": "Returned as the outputs.", "type": "object"},
        "message": {"description": "Printed as the step's output.", "type": "string"},
        "sleep": {
            "description": "Seconds to wait before answering.",
            "type": "number",
            "minimum": 0,
        },
        "fail": {
            "description": "Fail: true, or the error message to fail with.",
            "type": ["boolean", "string"],
        },
    },
}


class EchoType:
    name = "swamp/echo"
    description = "Return the given values as outputs; optionally sleep or fail. No side effects."

    def __init__(self) -> None:
        self.methods: Mapping[str, TypeMethod] = {
            "echo": TypeMethod("echo", "Echo `values` back as outputs.", ARGUMENTS)
        }

    def execute(self, method: str, arguments: dict[str, Any], ctx: ExecutionContext) -> Outcome:
        seconds = float(arguments.get("sleep", 0))
        if seconds:
            limit = ctx.timeout if ctx.timeout is not None else seconds
            if ctx.cancel.wait(min(seconds, limit)):
                return Outcome(ok=False, error="stopped")
            if limit < seconds:
                return Outcome(ok=False, error=f"timed out after {limit:g}s")
        outputs = dict(arguments.get("values") or {})
        message = arguments.get("message", "")
        fail = arguments.get("fail", False)
        if fail:
            error = fail if isinstance(fail, str) else "failed on request"
            return Outcome(ok=False, outputs=outputs, error=error, stdout=message)
        return Outcome(ok=True, outputs=outputs, stdout=message)
