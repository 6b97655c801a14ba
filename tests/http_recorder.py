"""A real HTTP server on 127.0.0.1 that records every request it receives and
answers from a script the test writes."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Headers every client adds on its own; tests compare the rest exactly.
TRANSPORT_HEADERS = frozenset({"host", "accept", "accept-encoding", "connection", "content-length"})


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent, still percent-encoded
    query: dict[str, list[str]]
    # Lower-case names; values decoded as Latin-1 (.encode("latin-1") gives the bytes sent).
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def own_headers(self) -> dict[str, str]:
        """The headers, without the ones any HTTP client adds."""
        return {k: v for k, v in self.headers.items() if k not in TRANSPORT_HEADERS}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a str is sent as is; anything else as JSON
    delay: float = 0.0
    drop: bool = False  # close the connection without answering
    headers: dict[str, str] = field(default_factory=dict)  # such as Location


@dataclass
class Recorder:
    """Routes are (METHOD, path); each holds replies used in turn, the last
    one repeating. Unknown routes answer 404."""

    requests: list[Request] = field(default_factory=list)
    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def on(self, method: str, path: str, *replies: Reply) -> None:
        with self.lock:
            self.routes[(method, path)] = list(replies)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self, method: str, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def _next(self, method: str, path: str) -> Reply:
        with self.lock:
            replies = self.routes.get((method, path))
            if not replies:
                return Reply(404, {"error": f"no route {method} {path}"})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def start(self) -> Recorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                with recorder.lock:
                    recorder.requests.append(
                        Request(
                            self.command,
                            parts.path,
                            parse_qs(parts.query, keep_blank_values=True),
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                reply = recorder._next(self.command, parts.path)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                raw = data.encode() if reply.body is not None else b""
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (a timeout test) is not an error here

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Unanswered:
    """A loopback port whose accept queue is full: a connection attempt gets
    no answer at all, so the client's connect timeout fires."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = int(self.listener.getsockname()[1])
        self.fillers = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # it completes in the background
                s.connect(("127.0.0.1", self.port))
            self.fillers.append(s)

    def close(self) -> None:
        for s in self.fillers:
            s.close()
        self.listener.close()
