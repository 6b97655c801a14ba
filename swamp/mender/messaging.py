"""mender/nats and mender/smtp: a Mender workflow's `nats` and `smtp` tasks.

Both send what Mender's worker sends (app/worker/nats.go, smtp.go) to the
server Mender's worker would use, named by the same environment variables
(Mender's config keys with its `WORKFLOWS_` prefix): the runner's settings,
read from the runner's environment as Mender's worker reads its own.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swamp.mender.substitute import Scope, go_json, substitute, substitute_json
from swamp.mender.tasks import ARGUMENTS, scope_of, skipped
from swamp.types.base import ExecutionContext, Outcome, TypeMethod

# Mender's config keys (config/config.go) as environment variables, with its defaults.
NATS_URI = ("WORKFLOWS_NATS_URI", "nats://mender-nats:4222")
NATS_STREAM = ("WORKFLOWS_NATS_STREAM_NAME", "WORKFLOWS")
SMTP_HOST = ("WORKFLOWS_SMTP_HOST", "localhost:25")
SMTP_USERNAME = ("WORKFLOWS_SMTP_USERNAME", "")
SMTP_PASSWORD = ("WORKFLOWS_SMTP_PASSWORD", "")
SMTP_AUTH = ("WORKFLOWS_SMTP_AUTH_MECHANISM", "PLAIN")
NATS_TIMEOUT = 10.0  # seconds for the connection and the stream's acknowledgement
SMTP_TIMEOUT = 300.0  # seconds per wait, without a step timeout (Go's SendMail has none)
_BARE_LF = re.compile(rb"(?<!\r)\n")


def setting(environ: Mapping[str, str], key: tuple[str, str]) -> str:
    return environ.get(key[0]) or key[1]


class MenderNatsType:
    name = "mender/nats"
    description = "A Mender workflow's nats task: one JetStream message, as Mender publishes it."

    def __init__(self) -> None:
        self.methods: Mapping[str, TypeMethod] = {
            "run": TypeMethod("run", "Publish the task's message.", ARGUMENTS)
        }

    def execute(self, method: str, arguments: dict[str, Any], ctx: ExecutionContext) -> Outcome:
        task = arguments["task"]
        scope = scope_of(arguments)
        return skipped("nats", task, scope) or publish(task["nats"], scope, os.environ, ctx)

    @staticmethod
    def present(outputs: Mapping[str, Any]) -> list[str]:
        if outputs.get("skipped"):
            return [f"skipped: {outputs.get('reason', '')}"]
        nats = outputs.get("nats") or {}
        lines = [f"subject: {nats.get('subject')}", f"  data: {nats.get('data')}"]
        return lines + ([f"error: {nats['error']}"] if nats.get("error") else [])

    @staticmethod
    def brief(outputs: Mapping[str, Any]) -> str:
        if outputs.get("skipped"):
            return f"skipped: {outputs.get('reason', '')}"
        nats = outputs.get("nats") or {}
        return f"published on {nats.get('subject')}" + (" (failed)" if nats.get("error") else "")


def publish(
    nats_task: Mapping[str, Any], scope: Scope, environ: Mapping[str, str], ctx: ExecutionContext
) -> Outcome:
    """processNATSTask: the data as Go's json.Marshal writes it, published with
    JetStream on STREAM.SUBJECT (the stream must exist, as Mender's worker
    creates it when it starts)."""
    subject = f"{setting(environ, NATS_STREAM)}.{nats_task.get('subject', '')}"
    result: dict[str, Any] = {"subject": subject, "data": "", "error": ""}
    outputs: dict[str, Any] = {"type": "nats", "success": False, "skipped": False, "nats": result}
    try:
        result["data"] = go_json(substitute_json(nats_task.get("data"), scope))
        _publish(setting(environ, NATS_URI), subject, result["data"].encode("utf-8"), ctx)
    except Exception as e:  # the client's errors have no common base worth naming
        result["error"] = str(e) or type(e).__name__
        return Outcome(ok=False, outputs=outputs, error=f"nats {subject}: {result['error']}")
    outputs["success"] = True
    return Outcome(ok=True, outputs=outputs)


def _publish(url: str, subject: str, payload: bytes, ctx: ExecutionContext) -> None:
    # start-up time: asyncio and nats load only when a message is published
    import asyncio

    import nats

    timeout = min(NATS_TIMEOUT, ctx.timeout) if ctx.timeout else NATS_TIMEOUT

    async def quiet(_: Exception) -> None:
        pass  # the failure is reported once, by the exception below

    async def run() -> None:
        # nats-py never gives up on a server while max_reconnect_attempts is 0:
        # 1 means two tries, half a second apart, then NoServersError.
        client = await nats.connect(
            servers=[url],
            connect_timeout=timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.5,
            error_cb=quiet,
        )
        try:
            await client.jetstream().publish(subject, payload, timeout=timeout)
        finally:
            await client.close()

    # A bound on the whole, whatever the client does: connect, publish, close.
    asyncio.run(asyncio.wait_for(run(), timeout * 3))


class MenderSmtpType:
    name = "mender/smtp"
    description = "A Mender workflow's smtp task: one email, built and sent as Mender does."

    def __init__(self) -> None:
        self.methods: Mapping[str, TypeMethod] = {
            "run": TypeMethod("run", "Send the task's email.", ARGUMENTS)
        }

    def execute(self, method: str, arguments: dict[str, Any], ctx: ExecutionContext) -> Outcome:
        task = arguments["task"]
        scope = scope_of(arguments)
        return skipped("smtp", task, scope) or send_mail(task["smtp"], scope, os.environ, ctx)

    @staticmethod
    def present(outputs: Mapping[str, Any]) -> list[str]:
        if outputs.get("skipped"):
            return [f"skipped: {outputs.get('reason', '')}"]
        smtp = outputs.get("smtp") or {}
        lines = [f"from: {smtp.get('sender')}", f"to: {', '.join(smtp.get('recipients') or [])}"]
        return lines + ([f"error: {smtp['error']}"] if smtp.get("error") else [])

    @staticmethod
    def brief(outputs: Mapping[str, Any]) -> str:
        if outputs.get("skipped"):
            return f"skipped: {outputs.get('reason', '')}"
        smtp = outputs.get("smtp") or {}
        return f"mail to {', '.join(smtp.get('recipients') or [])}"


def build_message(
    smtp: Mapping[str, Any], scope: Scope, root: Path, boundary: str | None = None
) -> tuple[str, list[str], str]:
    """processSMTPTask's message: the sender, every recipient (each entry of
    to, cc and bcc split at commas) and the text, byte for byte as Mender
    writes it (Go's mime/multipart for the parts; Bcc is a header there too)."""
    lists: dict[str, list[str]] = {}
    recipients: list[str] = []
    for key in ("to", "cc", "bcc"):
        entries = [substitute(entry, scope) for entry in smtp.get(key) or []]
        lists[key] = [a for entry in entries for a in entry.split(",")]
        recipients += lists[key]
    sender = substitute(smtp.get("from", ""), scope)
    subject = substitute(smtp.get("subject", ""), scope)
    boundary = boundary or secrets.token_hex(30)  # Go's randomBoundary: 30 random bytes
    parts = []
    for text, kind in (
        (_text_or_file(smtp.get("body", ""), scope, root), "plain"),
        (_text_or_file(smtp.get("html", ""), scope, root), "html"),
    ):
        if text:
            parts.append(
                f"--{boundary}\r\nContent-Transfer-Encoding: 8bit\r\n"
                f"Content-Type: text/{kind}; charset=utf-8\r\n\r\n{text}"
            )
    body = "\r\n".join(parts) + f"\r\n--{boundary}--\r\n"
    head = f"From: {sender}\r\n"
    for key, label in (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc")):
        if lists[key]:
            head += f"{label}: {', '.join(lists[key])}\r\n"
    head += (
        f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/alternative; boundary={boundary}\r\n\r\n"
    )
    return sender, recipients, head + body


def _text_or_file(text: str, scope: Scope, root: Path) -> str:
    """processJobStringOrFile: `@PATH` sends the file's text, substituted. The
    path is read inside the repository only (relative to its root)."""
    text = substitute(text, scope)
    if not text.startswith("@"):
        return text
    path = (root / text[1:]).resolve()
    if not path.is_relative_to(root.resolve()):
        raise OSError(f"{text[1:]}: outside the repository")
    return substitute(path.read_text(encoding="utf-8"), scope)


def address(text: str) -> str:
    """getEmailAddress: the address in `Name <a@b>`, or the text as it is."""
    from email.utils import getaddresses  # start-up time: only mail needs it

    found = getaddresses([text])
    return found[0][1] if found and found[0][1] else text


def send_mail(
    smtp: Mapping[str, Any], scope: Scope, environ: Mapping[str, str], ctx: ExecutionContext
) -> Outcome:
    result: dict[str, Any] = {"sender": "", "recipients": [], "message": "", "error": ""}
    outputs: dict[str, Any] = {"type": "smtp", "success": False, "skipped": False, "smtp": result}
    try:
        sender, recipients, message = build_message(smtp, scope, ctx.workdir)
    except (OSError, UnicodeError) as e:
        result["error"] = str(e)
        return Outcome(ok=False, outputs=outputs, error=f"smtp: {e}")
    result.update(sender=sender, recipients=recipients, message=message)
    envelope = [a for a in map(address, recipients) if a]
    if envelope:  # Mender sends nothing, successfully, without an address
        try:
            deliver(environ, address(sender), envelope, message.encode("utf-8"), ctx.timeout)
        except (OSError, ValueError) as e:  # smtplib's errors are OSErrors
            result["error"] = str(e) or type(e).__name__
            return Outcome(ok=False, outputs=outputs, error=f"smtp: {result['error']}")
    outputs["success"] = True
    return Outcome(ok=True, outputs=outputs)


def deliver(
    environ: Mapping[str, str], sender: str, to: list[str], message: bytes, timeout: float | None
) -> None:
    """Go's smtp.SendMail, step by step: EHLO localhost, STARTTLS when offered,
    AUTH when a user is set (PLAIN only over TLS or to localhost), MAIL FROM
    with BODY=8BITMIME and SMTPUTF8 when offered, RCPT TO each, DATA with
    every bare line feed sent as CRLF."""
    # start-up time: only mail needs these
    import smtplib
    import ssl

    for line in (sender, *to):
        if "\r" in line or "\n" in line:
            raise ValueError("smtp: A line must not contain CR or LF")
    hostport = setting(environ, SMTP_HOST)
    host, _, port = hostport.rpartition(":")
    if not host:
        raise ValueError(f"address {hostport}: missing port in address")
    host = host.strip("[]")
    user = setting(environ, SMTP_USERNAME)
    wait = timeout or SMTP_TIMEOUT
    with smtplib.SMTP(host, int(port), local_hostname="localhost", timeout=wait) as client:
        client.ehlo_or_helo_if_needed()
        tls = client.has_extn("starttls")
        if tls:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if user:
            if not client.has_extn("auth"):
                raise ValueError("smtp: server doesn't support AUTH")
            client.user, client.password = user, setting(environ, SMTP_PASSWORD)
            if setting(environ, SMTP_AUTH) == "CRAM-MD5":
                client.auth("CRAM-MD5", client.auth_cram_md5)
            elif tls or host in ("localhost", "127.0.0.1", "::1"):
                client.auth("PLAIN", client.auth_plain)
            else:
                raise ValueError("unencrypted connection")
        options = [
            o
            for o, ext in (("BODY=8BITMIME", "8bitmime"), ("SMTPUTF8", "smtputf8"))
            if client.has_extn(ext)
        ]
        code, reply = client.mail(sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        for recipient in to:
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        code, reply = client.data(_BARE_LF.sub(b"\r\n", message))
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
