"""`swamp serve`: check the bind and the tokens, take up the runs a restart
left, serve with uvicorn, and drain on SIGTERM (or Ctrl-C)."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from swamp.errors import SwampError, UsageError

log = logging.getLogger("swamp.serve")
STOP_WAIT_SECONDS = 30.0


def parse_bind(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise UsageError(f"--bind {text!r}: expected HOST:PORT, such as 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tokens_configured: bool) -> None:
    if not is_loopback(host) and not tokens_configured:
        raise SwampError(
            f"refusing to listen on {host}, beyond this machine, without authentication: "
            "set SWAMP_SERVE_TOKENS (name:token,...) or SWAMP_SERVE_TOKENS_FILE"
        )


def parse_interval(text: str) -> float:
    # start-up time: loaded when the server starts, not by other commands
    from swamp.definitions import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError:
        seconds = None
    if seconds is None or seconds <= 0:
        raise UsageError(f"--interval {text!r}: expected a duration such as 60s, 5m")
    return seconds


def _stop_own_runs(root: Path) -> None:
    """Stop every run this process executes (API runs and the pull runner's)."""
    # start-up time: loaded when the server starts, not by other commands
    from swamp.engine import control, runs

    me = f"pid {os.getpid()} on {socket.gethostname()}"
    for folder in runs.iter_run_dirs(root):
        if control.is_active(folder) and control.owner(folder) == me:
            control.send(folder, "stop")


def serve(
    repo_path: Path | None,
    *,
    bind: str,
    workers: int,
    grace: float,
    pull: str | None,
    interval: str,
    shard: str | None,
) -> int:
    # start-up time: uvicorn loads only when used
    import uvicorn

    # start-up time: loaded when the server starts, not by other commands
    from swamp.repo import find_root
    from swamp.serve import tokens as tokens_mod
    from swamp.serve.app import build
    from swamp.serve.context import Server
    from swamp.serve.pull import PullLoop, ensure_checkout
    from swamp.serve.repocache import RepoCache
    from swamp.serve.worker import Dispatcher
    from swamp.validate import load_repository

    host, port = parse_bind(bind)
    tokens = tokens_mod.load()
    check_bind(host, tokens.configured)
    seconds = parse_interval(interval) if pull else 0.0
    if shard and not pull:
        raise UsageError("--shard splits the queue between pull runners: use it with --pull")
    if pull:
        root = (repo_path or Path.cwd()).resolve()
        ensure_checkout(root, pull)
    else:
        root = find_root() if repo_path is None else repo_path.resolve()
    load_repository(root).require_valid()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    cache = RepoCache(root)
    dispatcher = Dispatcher(cache, workers)
    server = Server(cache, dispatcher, tokens, pull)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog until uvicorn serves them
    except OSError as e:
        raise SwampError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    actual = sock.getsockname()[1]

    signals: list[int] = []

    class Uvicorn(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Not uvicorn's: it raises the signal again once it has shut down,
            # which would end the process before the runs are drained.
            dispatcher.draining = True  # refuse new work at once, before the socket closes
            signals.append(sig)
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

    config = uvicorn.Config(
        build(server),
        log_level="info",
        timeout_graceful_shutdown=max(1, min(5, int(grace))),
        access_log=True,
    )
    web = Uvicorn(config)
    loop = PullLoop(root, seconds, shard, workers) if pull else None
    recovered = dispatcher.recover()
    if recovered:
        log.info("continuing %d run(s) accepted before the restart", len(recovered))
    sys.stdout.write(f"swamp serve: listening on http://{host}:{actual} for {root}\n")
    sys.stdout.flush()
    if loop is not None:
        loop.start()
    try:
        web.run(sockets=[sock])
    finally:
        dispatcher.draining = True
        started = time.monotonic()
        if loop is not None:
            loop.stop(grace)
        dispatcher.drain(max(0.0, grace - (time.monotonic() - started)))
        _stop_own_runs(root)
        if loop is not None:
            loop.stop(STOP_WAIT_SECONDS)  # its runs record that they stopped
        sock.close()
    log.info("swamp serve: stopped")
    return 130 if signal.SIGINT in signals else 0
