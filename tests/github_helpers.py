"""A GitHub REST API on 127.0.0.1 for the four-eyes approval rule, and an
origin whose swamp.yaml asks for it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from git_helpers import clone, make_origin

# The token FakeGitHub accepts.
TOKEN = {"GITHUB_TOKEN": "gh-token-123"}


def approval_origin(tmp_path: Path, url: str) -> tuple[Path, Path]:
    """An origin requiring one approval by someone other than the requester,
    from the API at `url`, and an engineer's clone of it."""
    config = (
        "version: 1\n"
        f"approval: {{required: 1, forbidSelfApproval: true, apiUrl: '{url}', "
        "repository: acme/ops}\n"
    )
    origin = make_origin(tmp_path, swamp_yaml=config)
    return origin, clone(origin, tmp_path / "engineer")


class FakeGitHub:
    """Answers the two endpoints swamp uses; records every request."""

    def __init__(self) -> None:
        self.pulls: dict[str, list[dict[str, Any]]] = {}
        self.reviews: dict[int, list[dict[str, Any]]] = {}
        self.commits: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append((self.path, self.headers.get("Authorization", "")))
                parts = self.path.split("?")[0].strip("/").split("/")
                body: Any = {"message": "Not Found"}
                code = 404
                if self.headers.get("Authorization") != "Bearer gh-token-123":
                    body, code = {"message": "Bad credentials"}, 401
                elif parts[:3] == ["repos", "acme", "ops"] and parts[3:4] == ["commits"]:
                    body, code = fake.pulls.get(parts[4], []), 200
                elif parts[:3] == ["repos", "acme", "ops"] and parts[5:6] == ["reviews"]:
                    body, code = fake.reviews.get(int(parts[4]), []), 200
                elif parts[:3] == ["repos", "acme", "ops"] and parts[5:6] == ["commits"]:
                    body, code = fake.commits.get(int(parts[4]), []), 200
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
