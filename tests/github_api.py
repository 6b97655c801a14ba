"""A fake of GitHub's REST API for issue comments, on 127.0.0.1 only.

It keeps the comments of each issue (a pull request is an issue) and answers
the three endpoints the plan-comment job uses, as GitHub documents them:
list (`GET /repos/{owner}/{repo}/issues/{number}/comments`, `per_page` at
most 100, `page` from 1), create (`POST` there, JSON `{"body": …}`, 201) and
update (`PATCH /repos/{owner}/{repo}/issues/comments/{id}`, 200). A request
without the bearer token, or with a body that is not `{"body": string}`, is
answered as GitHub would (401, 422), and every request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


@dataclass
class Comments:
    token: str
    issues: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path?query)
    next_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def add(self, repo: str, number: int, body: str, user: str = "reviewer") -> int:
        with self.lock:
            self.next_id += 1
            self.issues.setdefault((repo, number), []).append(
                {"id": self.next_id, "body": body, "user": {"login": user}}
            )
            return self.next_id

    def of(self, repo: str, number: int) -> list[dict[str, Any]]:
        return list(self.issues.get((repo, number), []))


def _handler(state: Comments) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet tests
            pass

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> str | None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                data = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return None
            body = data.get("body") if isinstance(data, dict) else None
            return body if isinstance(body, str) else None

        def _handle(self) -> None:
            url = urlsplit(self.path)
            state.requests.append((self.command, self.path))
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                self._send(401, {"message": "Bad credentials"})
                return
            listed, one = _LIST.match(url.path), _ONE.match(url.path)
            if listed and self.command == "GET":
                query = parse_qs(url.query)
                per_page = min(100, int(query.get("per_page", ["30"])[0]))
                page = int(query.get("page", ["1"])[0])
                comments = state.of(listed[1], int(listed[2]))
                self._send(200, comments[(page - 1) * per_page : page * per_page])
            elif listed and self.command == "POST":
                body = self._body()
                if body is None:
                    self._send(422, {"message": "Validation Failed"})
                    return
                new = state.add(listed[1], int(listed[2]), body, user="github-actions[bot]")
                self._send(201, {"id": new, "body": body})
            elif one and self.command == "PATCH":
                body = self._body()
                found = [
                    c
                    for (repo, _), comments in state.issues.items()
                    if repo == one[1]
                    for c in comments
                    if c["id"] == int(one[2])
                ]
                if not found:
                    self._send(404, {"message": "Not Found"})
                elif body is None:
                    self._send(422, {"message": "Validation Failed"})
                else:
                    found[0]["body"] = body
                    self._send(200, found[0])
            else:
                self._send(404, {"message": "Not Found"})

        do_GET = do_POST = do_PATCH = _handle

    return Handler


@contextlib.contextmanager
def serve(token: str) -> Iterator[Comments]:
    """Run the fake API in a thread; its `url` is the API's base URL."""
    state = Comments(token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
