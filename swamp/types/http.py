"""http/request: one HTTP request with httpx.

Outputs: `status`, `headers` (lower-case names), `body` (text) and `json`
(the parsed body when it is JSON, else null).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from swamp.types.base import ExecutionContext, Outcome, TypeMethod

ARGUMENTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"description": "The URL, http:// or https://.", "type": "string"},
        "method": {
            "description": "The HTTP method. Default GET.",
            "type": "string",
            "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        },
        "headers": {
            "description": "Request headers.",
            "type": "object",
            "additionalProperties": {"type": "string"},
        },
        "query": {
            "description": "Query parameters added to the URL.",
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "json": {"description": "A JSON body (sets Content-Type: application/json)."},
        "body": {"description": "A raw text body.", "type": "string"},
        "form": {
            "description": "A form-encoded body.",
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "connectTimeout": {
            "description": "Seconds to wait for the connection. Default 10.",
            "type": "number",
            "exclusiveMinimum": 0,
        },
        "readTimeout": {
            "description": "Seconds to wait for the response. Default 30.",
            "type": "number",
            "exclusiveMinimum": 0,
        },
        "expectedStatus": {
            "description": "Status codes that mean success. Default: any 2xx.",
            "type": "array",
            "items": {"type": "integer", "minimum": 100, "maximum": 599},
            "minItems": 1,
        },
        "followRedirects": {"description": "Follow redirects. Default false.", "type": "boolean"},
    },
    "not": {
        "anyOf": [
            {"required": ["json", "body"]},
            {"required": ["json", "form"]},
            {"required": ["body", "form"]},
        ]
    },
}


class HttpType:
    name = "http/request"
    description = "Send one HTTP request; succeed on an expected status."

    def __init__(self) -> None:
        self.methods: Mapping[str, TypeMethod] = {
            "request": TypeMethod("request", "Send the request.", ARGUMENTS)
        }

    def execute(self, method: str, arguments: dict[str, Any], ctx: ExecutionContext) -> Outcome:
        # start-up time: httpx loads only when used
        import httpx

        verb = arguments.get("method", "GET")
        url = arguments["url"]
        read = float(arguments.get("readTimeout", 30))
        if ctx.timeout is not None:
            read = min(read, ctx.timeout)
        timeout = httpx.Timeout(read, connect=float(arguments.get("connectTimeout", 10)))
        body: dict[str, Any] = {}
        if "json" in arguments:
            body["json"] = arguments["json"]
        elif "form" in arguments:
            body["data"] = {k: _text(v) for k, v in arguments["form"].items()}
        elif "body" in arguments:
            body["content"] = arguments["body"].encode("utf-8")
        query = {k: _text(v) for k, v in (arguments.get("query") or {}).items()}
        try:
            with httpx.Client(
                timeout=timeout,
                follow_redirects=bool(arguments.get("followRedirects", False)),
                trust_env=False,
            ) as client:
                response = client.request(
                    verb, url, headers=arguments.get("headers"), params=query or None, **body
                )
        except httpx.TimeoutException as e:
            return Outcome(ok=False, error=f"{verb} {url}: timed out ({_kind(e)})")
        except httpx.HTTPError as e:
            return Outcome(ok=False, error=f"{verb} {url}: {_reason(e)}")
        outputs = response_outputs(response)
        expected = arguments.get("expectedStatus")
        ok = response.status_code in expected if expected else 200 <= response.status_code < 300
        text = outputs["body"]
        if not ok:
            wanted = ", ".join(map(str, expected)) if expected else "2xx"
            snippet = text.strip().splitlines()[0][:200] if text.strip() else ""
            error = f"{verb} {url}: status {response.status_code} (expected {wanted})"
            return Outcome(
                ok=False, outputs=outputs, error=error + (f": {snippet}" if snippet else "")
            )
        return Outcome(ok=True, outputs=outputs, stdout=text)


def response_outputs(response: Any) -> dict[str, Any]:
    text: str = response.text
    parsed: Any = None
    if text.strip():
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    return {
        "status": response.status_code,
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "body": text,
        "json": parsed,
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _kind(e: Exception) -> str:
    name = type(e).__name__
    return {
        "ConnectTimeout": "connect",
        "ReadTimeout": "read",
        "WriteTimeout": "write",
        "PoolTimeout": "pool",
    }.get(name, name)


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused"
    return text
