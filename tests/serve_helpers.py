"""A real `swamp serve` (uvicorn) on 127.0.0.1 at a random port, in this
process, for the tests of the API and the web view."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from swamp.serve.app import build
from swamp.serve.context import Server
from swamp.serve.repocache import RepoCache
from swamp.serve.tokens import Tokens
from swamp.serve.worker import Dispatcher

TOKEN = "s3cret-token-of-alice"
OTHER = "s3cret-token-of-bob-00"
TOKENS = Tokens({"alice": TOKEN.encode(), "bob": OTHER.encode()})
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Running:
    url: str
    server: Server


@contextmanager
def running_server(
    root: Path, *, workers: int = 2, pull: str | None = None, tokens: Tokens = TOKENS
) -> Iterator[Running]:
    import uvicorn

    cache = RepoCache(root)
    dispatcher = Dispatcher(cache, workers)
    server = Server(cache, dispatcher, tokens, pull)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build(server), log_level="warning", timeout_graceful_shutdown=1)
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    dispatcher.recover()
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Running(f"http://127.0.0.1:{port}", server)
    finally:
        web.should_exit = True
        thread.join(10)
        dispatcher.drain(5)
        sock.close()
