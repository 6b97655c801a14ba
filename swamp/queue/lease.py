"""Leases: a runner with --push proves it is alive while its items run.

A claim says who took an item and when; time alone cannot tell a dead runner
from a slow one. So while an item runs, a keeper thread pushes a side ref,
refs/swamp/leases/<item>, every few seconds: a commit whose message is the
lease (runner, run, renewal time) and whose tree is the run's journal as it
stands (a checkpoint, at most one tick behind the step boundaries). Only a
runner whose lease has lapsed for longer than `defaults.claimTimeout` can be
taken over, and the one that takes it over starts from the checkpoint, so
succeeded steps are not run again.

The same thread watches the freeze on origin (fetching the branch into a
private ref and reading freeze.yaml from that tree) and mirrors it into
.swamp/, where the engine looks at every step boundary. Everything here is
rate-limited: one fetch, and one push per running item, per tick.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from swamp import freeze, output
from swamp.engine import runs
from swamp.gitrepo import GitError, Repo
from swamp.identity import runner_identity
from swamp.timing import iso, utcnow

if TYPE_CHECKING:
    from swamp.queue.decision import Action

LEASES = "refs/swamp/leases"
# At most this long between two looks at origin; a short claimTimeout shortens it.
TICK_SECONDS = 5.0
MIN_TICK_SECONDS = 0.25


def lease_ref(item_id: str) -> str:
    return f"{LEASES}/{item_id}"


def tick_seconds(claim_timeout: float) -> float:
    """Renew four times per claimTimeout, so one late renewal never loses it."""
    return max(MIN_TICK_SECONDS, min(TICK_SECONDS, claim_timeout / 4))


@dataclass(frozen=True)
class Lease:
    item: str
    run: str
    runner: str
    host: str
    checkout: str
    renewed_at: str
    commit: str = ""

    def as_message(self) -> str:
        body = {
            "item": self.item,
            "run": self.run,
            "runner": self.runner,
            "host": self.host,
            "checkout": self.checkout,
            "renewedAt": self.renewed_at,
        }
        return f"swamp: lease of item {self.item}\n\n{json.dumps(body, sort_keys=True)}\n"

    @classmethod
    def from_message(cls, text: str, commit: str) -> Lease | None:
        _, _, body = text.partition("\n\n")
        try:
            data = json.loads(body)
            return cls(
                str(data["item"]),
                str(data["run"]),
                str(data["runner"]),
                str(data["host"]),
                str(data["checkout"]),
                str(data["renewedAt"]),
                commit,
            )
        except (ValueError, KeyError, TypeError):
            return None


def remote_lease(git: Repo, item_id: str) -> Lease | None:
    """The item's lease as origin has it now (fetched)."""
    git.fetch_side_refs("leases")
    sha = git.resolve(f"refs/swamp/origin/leases/{item_id}")
    if sha is None:
        return None
    return Lease.from_message(git.message(sha), sha)


def release_run_lease(git: Repo, item_id: str, run_id: str) -> None:
    """The result of run `run_id` of the item is on origin: delete the lease
    a runner left for that run (interrupted, or dead before it released it).
    A lease of another run is left alone, and so is one renewed since it was
    read. Best effort: the result is on origin whatever becomes of the lease,
    so a failure is a warning on stderr, never an error."""
    ref = lease_ref(item_id)
    try:
        current = remote_lease(git, item_id)
        if current is None or current.run != run_id:
            return
        try:
            git.delete_remote_ref_at(ref, current.commit)
        except GitError:
            again = remote_lease(git, item_id)  # gone meanwhile, or another run's now
            if again is not None and again.run == run_id:
                raise
    except GitError as e:
        output.err(
            f"swamp: warning: the lease of run {run_id} is still on origin ({e}); "
            f"it holds nothing: delete it with `git push origin :{ref}`"
        )


def renewals(git: Repo) -> dict[str, str]:
    """{item: when its lease was last renewed}, as origin has them now; as
    last fetched when origin cannot be reached."""
    with contextlib.suppress(GitError):
        git.fetch_side_refs("leases")
    found = {}
    for ref, sha in git.refs("refs/swamp/origin/leases").items():
        lease = Lease.from_message(git.message(sha), sha)
        if lease is not None:
            found[ref.rsplit("/", 1)[1]] = lease.renewed_at
    return found


def renewals_at(root: Path) -> dict[str, str]:
    """renewals() for the checkout at `root`: how `queue list` and `queue
    execute` judge a claim made elsewhere, as a takeover would (see
    status.lapsed); as last fetched when origin cannot be reached, and none
    outside git."""
    try:
        with Repo(root) as git:
            return renewals(git)
    except GitError:
        return {}


def restore_checkpoint(git: Repo, root: Path, lease: Lease) -> int:
    """Write the checkpointed journal of the lease's run into runs/<run>/ when
    it holds more than the local one; the number of files written."""
    folder = f"{runs.RUNS}/{lease.run}"
    journal = f"{folder}/journal.jsonl"
    theirs = git.show(lease.commit, journal)
    if theirs is None:
        return 0
    local = root / journal
    mine = local.read_bytes() if local.is_file() else b""
    if len(theirs.splitlines()) <= len(mine.splitlines()):
        return 0
    written = 0
    for path in git.files_at(lease.commit, folder):
        data = git.show(lease.commit, path)
        if data is None:
            continue
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    return written


class Keeper:
    """One thread per `queue execute --push`: renews the lease of every item
    running, checkpoints its journal, and mirrors origin's freeze."""

    def __init__(self, root: Path, claim_timeout: float) -> None:
        self.root = root
        self.tick = tick_seconds(claim_timeout)
        self.git = Repo(root)  # its own handle: this thread never touches the index
        self.lock = threading.Lock()
        self.active: dict[str, str] = {}  # item -> run
        self.leased: set[str] = set()  # items whose lease is, or may be, on origin
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.warned = False
        freeze.observed(root, None)  # a mirror left by a runner that died is stale

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="swamp-lease", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()
        freeze.observed(self.root, None)

    @contextlib.contextmanager
    def watch(self, action: Action) -> Iterator[None]:
        """Lease the item while its run goes on, renewed every tick (the claim
        just pushed is the first lease)."""
        with self.lock:
            self.active[action.item.id] = action.run_id
            if action.mode == "resume":
                # The runner it is resumed from (interrupted, or taken over)
                # may have left its lease on origin: it goes with the result,
                # even if this run ends before its own first renewal.
                self.leased.add(action.item.id)
        try:
            yield
        finally:
            with self.lock:
                self.active.pop(action.item.id, None)

    def release(self, item_id: str) -> None:
        """The result is on origin: the lease is of no more use."""
        with self.lock:
            if item_id not in self.leased:
                return
            self.leased.discard(item_id)
        self.git.delete_remote_ref(lease_ref(item_id))

    def _loop(self) -> None:
        while not self.stopping.wait(self.tick):
            self._watch_freeze()
            with self.lock:
                ids = list(self.active)
            for item_id in ids:
                self._renew(item_id)

    def _watch_freeze(self) -> None:
        try:
            head = self.git.observe_branch(watcher="freeze")
            data = self.git.show(head, freeze.FREEZE_FILE) if head else None
        except GitError as e:
            self._warn(f"cannot see origin's freeze: {e}")
            return
        freeze.observed(self.root, data)

    def _renew(self, item_id: str) -> None:
        """Push the lease, with the run's journal as it is now."""
        with self.lock:
            run_id = self.active.get(item_id)
        if run_id is None:
            return
        folder = f"{runs.RUNS}/{run_id}"
        lease = Lease(
            item_id,
            run_id,
            runner_identity(),
            socket.gethostname(),
            str(self.root),
            iso(utcnow()),
        )
        try:
            sha = self.git.snapshot([folder], lease.as_message())
            self.git.push_ref(sha, lease_ref(item_id))
            with self.lock:
                self.leased.add(item_id)
        except GitError as e:
            self._warn(f"cannot renew the lease of item {item_id}: {e}")

    def _warn(self, text: str) -> None:
        if not self.warned:  # once per runner: the run goes on regardless
            self.warned = True
            print(f"swamp: warning: {text}", file=sys.stderr)
