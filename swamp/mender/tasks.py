"""mender/http and mender/cli: the types that execute a Mender workflow's
http and cli tasks (mender/nats and mender/smtp are in `messaging`).

Each gets the task as written, the run's inputs, the earlier steps' outputs
and the environment swamp.yaml allows, and does Mender's substitution at the
moment it runs. Outputs follow Mender's task result: `type`, `success`,
`skipped`, and `httpRequest` + `httpResponse` or `cli`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from swamp import __version__
from swamp.mender.substitute import Scope, go_json, substitute, substitute_json
from swamp.types.base import ExecutionContext, Outcome, TypeMethod

# Mender's limit for a cli task without executionTimeOut.
MAX_EXECUTION_SECONDS = 4 * 3600
BODY_LINES = 20
BODY_WIDTH = 300

ARGUMENTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["task"],
    "properties": {
        "task": {"description": "The task as written in the workflow file.", "type": "object"},
        "inputs": {"description": "The run's inputs.", "type": "object"},
        "steps": {"description": "Earlier steps: their state and outputs.", "type": "object"},
        "env": {"description": "Environment variables swamp.yaml allows.", "type": "object"},
        "secrets": {
            "description": "Secrets swamp.yaml allows, read as env.NAME (masked).",
            "type": "object",
        },
    },
}


def scope_of(arguments: Mapping[str, Any]) -> Scope:
    """What `${…}` reads: inputs, env (and secrets), earlier tasks' raw output."""
    env = {**(arguments.get("secrets") or {}), **(arguments.get("env") or {})}
    results = {
        name: _raw_output(step.get("outputs") or {})
        for name, step in (arguments.get("steps") or {}).items()
        if step.get("state") == "succeeded"
    }
    return Scope(arguments.get("inputs") or {}, env, results)


def _raw_output(outputs: Mapping[str, Any]) -> str:
    """The text a later task's ${TASK.json.PATH} reads: the response body, or
    the command's output (nothing for a skipped task)."""
    if "httpResponse" in outputs:
        return str(outputs["httpResponse"].get("body", ""))
    if "cli" in outputs:
        return str(outputs["cli"].get("output", ""))
    return ""


def skipped(kind: str, task: Mapping[str, Any], scope: Scope) -> Outcome | None:
    """A task whose `requires` has an empty entry is skipped, as a success."""
    for i, text in enumerate(task.get("requires") or []):
        if substitute(text, scope) == "":
            reason = f"requires[{i}] {text} is empty"
            outputs = {"type": kind, "success": True, "skipped": True, "reason": reason}
            return Outcome(ok=True, outputs=outputs)
    return None


class MenderHttpType:
    name = "mender/http"
    description = "A Mender workflow's http task: one request, with Mender's ${…} substitution."

    def __init__(self) -> None:
        self.methods: Mapping[str, TypeMethod] = {
            "run": TypeMethod("run", "Send the task's request.", ARGUMENTS)
        }

    def execute(self, method: str, arguments: dict[str, Any], ctx: ExecutionContext) -> Outcome:
        task = arguments["task"]
        scope = scope_of(arguments)
        return skipped("http", task, scope) or send(task["http"], scope, ctx)

    @staticmethod
    def present(outputs: Mapping[str, Any]) -> list[str]:
        if outputs.get("skipped"):
            return [f"skipped: {outputs.get('reason', '')}"]
        request = outputs.get("httpRequest") or {}
        lines = [f"request: {request.get('method')} {request.get('uri')}"]
        lines += [f"  {k}: {v}" for k, v in (request.get("headers") or {}).items()]
        lines += _text_lines("  body", request.get("body") or "")
        response = outputs.get("httpResponse")
        if response is None:
            return [*lines, "response: none"]
        lines.append(f"response: {response.get('statusCode')}")
        return lines + _text_lines("  body", response.get("body") or "")

    @staticmethod
    def brief(outputs: Mapping[str, Any]) -> str:
        if outputs.get("skipped"):
            return f"skipped: {outputs.get('reason', '')}"
        request = outputs.get("httpRequest") or {}
        status = (outputs.get("httpResponse") or {}).get("statusCode")
        return f"{request.get('method')} {request.get('uri')} -> {status}"


def send(http: Mapping[str, Any], scope: Scope, ctx: ExecutionContext) -> Outcome:
    """One http task, as Mender's processHTTPTask (app/worker/http.go) sends it."""
    # start-up time: httpx loads only when used
    import httpx

    method = http.get("method") or "GET"
    uri = substitute(http["uri"], scope)  # inputs as they are, as in Mender
    outputs: dict[str, Any] = {"type": "http", "success": False, "skipped": False}
    try:
        body, body_type = _payload(http, scope)
    except ValueError as e:  # json.Marshal's refusal (NaN, infinity)
        return Outcome(ok=False, outputs=outputs, error=f"{method} {uri}: {e}")
    headers = _headers(http, scope, body_type)
    invalid = next((k for k, v in headers if _CONTROL.search(v)), None)
    if invalid:  # Go's transport refuses to send it (httpguts.ValidHeaderFieldValue)
        error = f"{method} {uri}: net/http: invalid header field value for {invalid!r}"
        return Outcome(ok=False, outputs=outputs, error=error)
    shown: dict[str, str] = {}
    for name, value in headers:
        shown[name] = f"{shown[name]}, {value}" if name in shown else value
    outputs["httpRequest"] = {"method": method, "uri": uri, "headers": shown, "body": body}
    timeout = httpx.Timeout(
        None,
        connect=_seconds(http.get("connectionTimeOut"), ctx),
        read=_seconds(http.get("readTimeOut"), ctx),
    )
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = _follow(client, method, uri, headers, body.encode("utf-8"))
    except httpx.TimeoutException as e:
        return Outcome(ok=False, outputs=outputs, error=f"{method} {uri}: timed out ({_kind(e)})")
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, _RedirectError) as e:
        return Outcome(ok=False, outputs=outputs, error=f"{method} {uri}: {_reason(e)}")
    text = response.text
    outputs["httpResponse"] = {"statusCode": response.status_code, "body": text}
    codes = http.get("statusCodes") or []
    ok = response.status_code in codes if codes else response.status_code < 400
    outputs["success"] = ok
    if ok:
        return Outcome(ok=True, outputs=outputs)
    wanted = ", ".join(map(str, codes)) if codes else "below 400"
    error = f"{method} {uri}: status {response.status_code} (expected {wanted})"
    snippet = text.strip().splitlines()[0][:200] if text.strip() else ""
    return Outcome(ok=False, outputs=outputs, error=error + (f": {snippet}" if snippet else ""))


def _headers(http: Mapping[str, Any], scope: Scope, body_type: str | None) -> list[list[str]]:
    """The headers as Go's net/http writes them: names canonical, values
    trimmed, `contentType` and a `Content-Type` in `headers` both sent, sorted
    by name (Go writes them so)."""
    headers: list[list[str]] = [["User-Agent", f"swamp/{__version__}"]]
    given = (http.get("headers") or {}).items()
    own = [[_canonical(k), substitute(v, scope).strip(" \t")] for k, v in given]
    if http.get("contentType"):
        headers.append(["Content-Type", http["contentType"]])
    elif body_type and not any(k == "Content-Type" for k, _ in own):
        headers.append(["Content-Type", body_type])
    headers += own
    return sorted(headers, key=lambda kv: kv[0])


def _canonical(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: `x-men-requestid` is sent as
    `X-Men-Requestid`; a name with a character outside a token is kept as is."""
    if not name or any(not (c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~")) for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class _RedirectError(Exception):
    pass


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what a header value may not hold
MAX_REDIRECTS = 10  # Go's default CheckRedirect
_SENSITIVE = ("authorization", "www-authenticate", "cookie", "cookie2")


def _follow(client: Any, method: str, uri: str, headers: list[list[str]], body: bytes) -> Any:
    """Send the request and follow redirects as Go's http.Client does
    (net/http client.go, redirectBehavior): after 301, 302 and 303 anything
    but GET and HEAD becomes a GET without a body; 307 and 308 keep the method
    and the body. The original headers go along (credentials and cookies only
    to the same host or a subdomain), with a Referer naming the previous URL."""
    # start-up time: httpx loads only when used
    import httpx

    url = httpx.URL(uri)
    current, content = method, _content(method, body)
    sent = [(k.encode("utf-8"), v.encode("utf-8")) for k, v in headers]  # UTF-8, as Go sends
    hops = 0
    while True:
        response = client.request(current, url, headers=sent, content=content)
        status = response.status_code
        location = response.headers.get("location")
        if status not in (301, 302, 303, 307, 308) or not location:
            return response
        if hops == MAX_REDIRECTS:
            raise _RedirectError(f"stopped after {MAX_REDIRECTS} redirects")
        hops += 1
        response.read()
        previous, url = url, url.join(location)
        if status in (307, 308):
            content = _content(current, body)
        else:
            current = current if current in ("GET", "HEAD") else "GET"
            content = None
        same = _host(url) == _host(previous) or _host(url).endswith("." + _host(previous))
        sent = [
            (k.encode("utf-8"), v.encode("utf-8"))
            for k, v in headers
            if same or k.lower() not in _SENSITIVE
        ]
        if not (previous.scheme == "https" and url.scheme == "http"):
            referer = previous.copy_with(username=None, password=None)
            sent.append((b"Referer", str(referer).encode()))


def _content(method: str, body: bytes) -> bytes | None:
    """Go sends `Content-Length: 0` for an empty POST, PUT or PATCH body only."""
    return body if body or method in ("POST", "PUT", "PATCH") else None


def _host(url: Any) -> str:
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    return f"{url.host}:{port}"


def _payload(http: Mapping[str, Any], scope: Scope) -> tuple[str, str | None]:
    """The body and its default Content-Type: formdata wins over json, which
    wins over body, as in Mender."""
    if http.get("formdata"):
        pairs = sorted(
            (substitute(k, scope), substitute(v, scope)) for k, v in http["formdata"].items()
        )
        return urlencode(pairs), "application/x-www-form-urlencoded"
    if http.get("json") is not None:
        return go_json(substitute_json(http["json"], scope)), "application/json"
    return substitute(http.get("body") or "", scope), None


def _seconds(milliseconds: int | None, ctx: ExecutionContext) -> float | None:
    """Mender's milliseconds (0 or absent: no limit of its own), capped by the
    step timeout."""
    limit = milliseconds / 1000 if milliseconds else None
    if ctx.timeout is not None:
        limit = ctx.timeout if limit is None else min(limit, ctx.timeout)
    return limit


def _kind(e: Exception) -> str:
    name = type(e).__name__
    return {"ConnectTimeout": "connect", "ReadTimeout": "read", "WriteTimeout": "write"}.get(
        name, name
    )


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused"
    return text


class MenderCliType:
    name = "mender/cli"
    description = "A Mender workflow's cli task: one command (no shell), with ${…} substitution."

    def __init__(self) -> None:
        self.methods: Mapping[str, TypeMethod] = {
            "run": TypeMethod("run", "Run the task's command.", ARGUMENTS)
        }

    def execute(self, method: str, arguments: dict[str, Any], ctx: ExecutionContext) -> Outcome:
        # start-up time: loaded only on this path
        from swamp.types.shell import run_process

        task = arguments["task"]
        scope = scope_of(arguments)
        skip = skipped("cli", task, scope)
        if skip:
            return skip
        cli = task["cli"]
        argv = [substitute(word, scope) for word in cli["command"]]
        limit = float(cli.get("executionTimeOut") or MAX_EXECUTION_SECONDS)
        if ctx.timeout is not None:
            limit = min(limit, ctx.timeout)
        done = run_process(argv, ctx.workdir, None, None, limit, ctx)
        result = {
            "command": argv,
            "output": done.stdout,
            "error": done.stderr,
            "exitCode": done.outputs.get("exitCode", -1),  # -1: it did not start
        }
        outputs = {"type": "cli", "success": done.ok, "skipped": False, "cli": result}
        return Outcome(ok=done.ok, outputs=outputs, error=done.error)

    @staticmethod
    def present(outputs: Mapping[str, Any]) -> list[str]:
        if outputs.get("skipped"):
            return [f"skipped: {outputs.get('reason', '')}"]
        cli = outputs.get("cli") or {}
        lines = [f"command: {' '.join(cli.get('command') or [])}"]
        lines.append(f"exit code: {cli.get('exitCode')}")
        lines += _text_lines("  output", cli.get("output") or "", block=True)
        return lines + _text_lines("  error", cli.get("error") or "", block=True)

    @staticmethod
    def brief(outputs: Mapping[str, Any]) -> str:
        if outputs.get("skipped"):
            return f"skipped: {outputs.get('reason', '')}"
        return f"exit code {(outputs.get('cli') or {}).get('exitCode')}"


def _text_lines(label: str, text: str, *, block: bool = False) -> list[str]:
    """A body or an output for people: one line as `label: text`, more as
    `label | line`, shortened (`run show --json` has it all)."""
    lines = text.splitlines()
    if not lines:
        return []
    cut = [line if len(line) <= BODY_WIDTH else line[: BODY_WIDTH - 1] + "…" for line in lines]
    if len(cut) == 1 and not block:
        return [f"{label}: {cut[0]}"]
    shown = [f"{label} | {line}" for line in cut[:BODY_LINES]]
    if len(cut) > BODY_LINES:
        shown.append(f"{label} | … {len(cut) - BODY_LINES} more lines (see run show --json)")
    return shown
