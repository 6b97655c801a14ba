"""The pull runner: fetch the remote on each tick and execute what is due,
exactly as `swamp queue execute --all --push` does (the same executor, the
same claims, leases and pushes), so that swamp can run inside a private
network that no hosted CI runner can reach."""

from __future__ import annotations

import logging
import subprocess
import threading
from pathlib import Path

from swamp.commands.queue import execute
from swamp.errors import SwampError
from swamp.publish import Publish
from swamp.queue.selection import Selector

log = logging.getLogger("swamp.serve")


def ensure_checkout(root: Path, remote: str) -> None:
    """Clone `remote` into `root` unless `root` already is a clone of it."""
    if (root / ".git").exists():
        found = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if found != remote:
            raise SwampError(
                f"{root} is a clone of {found or 'nothing'}, not of {remote}; "
                "give another --repo folder"
            )
        return
    if root.exists() and any(root.iterdir()):
        raise SwampError(f"{root} is not empty and not a git clone; give an empty --repo folder")
    done = subprocess.run(
        ["git", "clone", "--quiet", remote, str(root)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SwampError(f"cannot clone {remote}: {done.stderr.strip()}")


def tick(root: Path, shard: str | None, concurrency: int) -> int:
    """One pass: what `swamp queue execute --all --push [--shard]` does."""
    return execute(
        root,
        Selector(True, False, False, None, None, None),
        dry_run=False,
        concurrency=concurrency,
        by="swamp serve",
        as_json=False,
        publish=Publish(commit=True, push=True),
        shard=shard,
    )


class PullLoop:
    def __init__(self, root: Path, interval: float, shard: str | None, concurrency: int) -> None:
        self.root = root
        self.interval = interval
        self.shard = shard
        self.concurrency = concurrency
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="swamp-pull", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                tick(self.root, self.shard, self.concurrency)
            except SwampError as e:  # a freeze, a push refused: said, and tried next tick
                log.warning("pull: %s", e)
            except Exception:
                log.exception("pull: unexpected error")
            self.stopping.wait(self.interval)

    def stop(self, timeout: float) -> None:
        """Start no new tick; wait for the one in progress."""
        self.stopping.set()
        self._thread.join(timeout)
