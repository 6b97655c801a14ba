"""Results that are never lost: pushed per item, or kept on a side ref.

With --push each item's result (its queue or done/ file and its run's
journal) is pushed as soon as its run ends, as a commit made on top of
origin's branch through a private index: the work tree and the branch are not
touched while other items still run, and a conflict on one item (someone
edited its file meanwhile) strands only that item. A result that cannot be
pushed is kept on refs/swamp/results/<item>, locally and on origin when it
can be pushed there, and `swamp queue recover` lands it later without running
anything again.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from swamp import items
from swamp.engine import runs
from swamp.engine.journal import JOURNAL
from swamp.gitrepo import PUSH_ATTEMPTS, GitError, Repo, backoff
from swamp.queue.lease import Keeper, release_run_lease

if TYPE_CHECKING:
    from swamp.queue.decision import Action, Report

RESULTS = "refs/swamp/results"
RECOVER = "swamp queue recover"
_ITEM_ID = re.compile(r"-([0-9a-f]{12})(?:-\d+)?$")


class Conflict(GitError):
    """Origin changed a file of the item since it was claimed."""


def result_ref(item_id: str) -> str:
    return f"{RESULTS}/{item_id}"


def item_paths(root: Path, queue_file: Path, run_id: str | None) -> list[str]:
    """Every file an item's outcome touches: its queue file, its done/ records
    and its run's folder."""
    stem = queue_file.stem
    paths = [f"{items.QUEUE}/{queue_file.name}"]
    paths += sorted(
        f"{items.DONE}/{p.name}" for p in items.done_dir(root).glob(f"{stem}*") if p.is_file()
    )
    if run_id:
        paths.append(f"{runs.RUNS}/{run_id}")
    return paths


def push_paths(git: Repo, paths: list[str], message: str, *, check: bool = True) -> str:
    """Commit `paths` as they are on disk on top of origin's branch and push
    that commit; the branch and the work tree stay as they are.

    `check`: refuse (Conflict) when origin changed one of them since HEAD.
    """
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        tip = git.observe_branch()
        if tip is None:
            raise GitError("the branch is not on origin yet; push it first")
        if check:
            changed = git.differ("HEAD", tip, paths)
            if changed:
                raise Conflict(
                    f"origin changed {', '.join(changed)} since this runner claimed the item"
                )
        sha = git.snapshot(paths, message, parent=tip)
        if git.try_push(sha):
            return sha
        backoff(attempt)
    raise GitError(f"git push refused {PUSH_ATTEMPTS} times (others keep pushing); try again later")


@dataclass
class Publisher:
    """Pushes each item's result as its run ends (see executor.Executor.after)."""

    git: Repo
    root: Path
    keeper: Keeper | None = None
    stranded: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def after(self, action: Action, report: Report) -> Report:
        paths = item_paths(self.root, action.item.path, report.run or action.run_id)
        subject = f"swamp: result of item {action.item.id}: {report.outcome}"
        trailers = f"Swamp-Item: {action.item.id}\nSwamp-Run: {report.run or action.run_id}"
        message = f"{subject}\n\n{trailers}\n"
        with self.lock:
            try:
                push_paths(self.git, paths, message)
            except GitError as e:
                where = self.strand(action.item.id, paths, message)
                said = f"{report.detail}; " if report.detail else ""
                report.detail = (
                    f"{said}its result could not be pushed ({e}); kept at {where}; "
                    f"land it with: {RECOVER}"
                )
                return report
        if self.keeper is not None:
            self.keeper.release(action.item.id)
        return report

    def strand(self, item_id: str, paths: list[str], message: str) -> str:
        """Keep the result on a side ref (here, and on origin if it can be
        pushed there), and put the work tree back as the branch has it."""
        ref = result_ref(item_id)
        head = self.git.head()
        sha = self.git.snapshot(paths, message, parent=head)
        self.git.update_ref(ref, sha)
        self.stranded.append(item_id)
        try:
            self.git.push_ref(sha, ref)
            where = f"{ref} (here and on origin)"
        except GitError:
            where = f"{ref} (on this checkout only)"
        self.git.discard(paths)
        return where


# Where runner-owned state lives; a stranded result lands only these.
RUNNER_OWNED = (items.QUEUE + "/", items.DONE + "/", runs.RUNS + "/")


def stranded(git: Repo, *, include_origin: bool) -> dict[str, str]:
    """{item: result commit} kept here and (fetched) on origin; local first."""
    found: dict[str, str] = {}
    if include_origin:
        git.fetch_side_refs("results")
        for ref, sha in git.refs("refs/swamp/origin/results").items():
            found[ref.rsplit("/", 1)[1]] = sha
    for ref, sha in git.refs(RESULTS).items():
        found[ref.rsplit("/", 1)[1]] = sha
    return found


def land(git: Repo, root: Path, item_id: str, sha: str) -> bool:
    """Put a stranded result on origin (it wins over whatever origin has for
    those files: the work it records has happened). False if origin already
    had it. Nothing runs."""
    tip = git.observe_branch()
    if tip is None:
        raise GitError("the branch is not on origin yet; push it first")
    base = git.merge_base(sha, tip)
    changes = [(k, p) for k, p in git.changes(base, sha) if p.startswith(RUNNER_OWNED)]
    paths = [p for _, p in changes]
    landed = not git.differ(sha, tip, paths)
    if not landed:
        wrong = not_a_result(git, root, tip, sha, changes, item_id)
        if wrong:
            raise Refused(
                f"{result_ref(item_id)}: refused: {wrong}; nothing of it landed "
                f"(look at it with `git log -p {sha[:12]}`, delete it with "
                f"`git push origin :{result_ref(item_id)}`)"
            )
        for kind, path in changes:
            target = root / path
            if kind == "D":
                target.unlink(missing_ok=True)
                continue
            data = git.show(sha, path)
            if data is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        push_paths(git, paths, git.message(sha).rstrip() + "\nSwamp-Recovered: yes\n", check=False)
    git.delete_ref(result_ref(item_id))
    git.delete_ref(f"refs/swamp/origin/results/{item_id}")
    git.delete_remote_ref(result_ref(item_id))
    _release_lease(git, item_id, sha)
    return not landed


def _release_lease(git: Repo, item_id: str, sha: str) -> None:
    """The lease of the run a landed result records is of no more use (its
    runner ended without releasing it); see lease.release_run_lease."""
    for line in git.message(sha).splitlines():
        if line.startswith("Swamp-Run: "):
            release_run_lease(git, item_id, line.removeprefix("Swamp-Run: "))


class Refused(GitError):
    """A side ref holds something no runner's result can be."""


def not_a_result(
    git: Repo, root: Path, tip: str, sha: str, changes: list[tuple[str, str]], ref_item: str
) -> str:
    """Why commit `sha` is not a runner's result ("" if it may be one).

    Side refs sit outside branch protection: anyone who may push can write
    them, and landing one is done with the runner's rights. So a result may
    only record what running items that origin has queued produced: their
    queue/ file (same request identity) or its move to done/, and the
    journals of their runs. It never adds an item, deletes a record, or
    touches an item that `ref_item` (or, for a stranded branch, the items
    in it) does not name.
    """
    only = None if ref_item.startswith("unpushed-") else ref_item
    queued: set[str] = set()  # the items it records, each queued at tip
    for kind, path in changes:
        top, _, name = path.partition("/")
        if top == runs.RUNS:
            continue
        item_id = _id_of(name)
        if item_id is None or (only is not None and item_id != only):
            return f"it changes {path}, which is not the result of item {only or '?'}"
        queue_path = f"{items.QUEUE}/{_queue_name(name, item_id)}"
        if git.show(tip, queue_path) is None:
            if top == items.QUEUE and kind == "A":
                return f"it adds {path}, which no review queued"
            return f"it changes {path}, but origin has no item {item_id} queued"
        if kind == "D" and top == items.DONE:
            return f"it deletes the record {path}"
        if kind == "D" and not any(
            p.startswith(f"{items.DONE}/{Path(queue_path).stem}") and k != "D" for k, p in changes
        ):
            return f"it deletes {path} without recording a result in done/"
        if kind != "D":
            wrong = _not_an_item(git, root, sha, path, done=top == items.DONE)
            if wrong:
                return wrong
        queued.add(item_id)
    run_folders = {p.split("/")[1] for _, p in changes if p.startswith(runs.RUNS + "/")}
    for run_id in sorted(run_folders):
        named = _journal_item(git, sha, run_id)
        if named not in queued:
            return f"it changes {runs.RUNS}/{run_id}, a run of no item it records"
    if any(k == "D" for k, p in changes if p.startswith(runs.RUNS + "/")):
        return "it deletes files of a run"
    return ""


def _id_of(name: str) -> str | None:
    m = _ITEM_ID.search(Path(name).stem) if name.endswith(".yaml") else None
    return m.group(1) if m else None


def _queue_name(name: str, item_id: str) -> str:
    """done/<stem>-2.yaml -> <stem>.yaml: the queue file a record is of."""
    stem = Path(name).stem
    return stem[: stem.rindex(item_id) + len(item_id)] + ".yaml"


def _not_an_item(git: Repo, root: Path, sha: str, path: str, *, done: bool) -> str:
    """Why `path` at `sha` is not a valid item ("" if it is). The loader
    checks that its id is the digest of its request and ends its file name,
    so it is the item the path names."""
    try:
        text = (git.show(sha, path) or b"").decode("utf-8")
    except UnicodeDecodeError:
        return f"{path} is not text"
    item = items.parse_item(text, root / path, done=done)
    if isinstance(item, items.BrokenItem):
        return f"{path} is not a valid item ({item.problem.message})"
    return ""


def _journal_item(git: Repo, sha: str, run_id: str) -> str | None:
    """The item the run's journal (its first event) says it was started for."""
    data = git.show(sha, f"{runs.RUNS}/{run_id}/{JOURNAL}")
    if not data:
        return None
    try:
        first = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        return None
    named = first.get("item") if isinstance(first, dict) else None
    return named if isinstance(named, str) else None


def strand_unpushed(git: Repo) -> str:
    """Keep the branch's unpushed commits on a side ref (here, and on origin
    if possible) and move the branch to the upstream."""
    head = git.head()
    assert head is not None
    ref = result_ref(f"unpushed-{head[:12]}")
    git.update_ref(ref, head)
    with contextlib.suppress(GitError):  # then kept here only; recover lands it
        git.push_ref(head, ref)
    remote, branch = git.upstream()
    git.reset_keep(f"{remote}/{branch}")
    return ref


def leftovers(git: Repo, root: Path) -> list[str]:
    """Uncommitted files that a runner of this checkout left and no process
    holds now: runs' journals, items claimed here, their done/ records."""
    # start-up time: loaded only on this path
    from swamp.engine import control
    from swamp.queue.status import item_locked

    found = []
    dirty = git.dirty()
    item_runs: set[str] | None = None
    for path in dirty:
        top, _, rest = path.partition("/")
        if top == runs.RUNS:
            if item_runs is None:  # a local run made without --commit stays local
                item_runs = {
                    e.run
                    for e in items.iter_items(root, include_done=True)
                    if isinstance(e, items.Item) and e.run
                }
            run = rest.partition("/")[0]
            if run in item_runs and not control.is_active(root / runs.RUNS / run):
                found.append(path)
        elif top in (items.QUEUE, items.DONE) and (root / path).exists():
            item = items.read_item(root / path, done=top == items.DONE)
            if item is None or item_locked(root, item.id):
                continue
            claim = item.claim
            here = claim.get("host") == socket.gethostname() and claim.get("checkout") == str(root)
            if here or (top == items.DONE and item.result is not None):
                found.append(path)
        elif top == items.QUEUE:  # deleted: finished, if its done/ record is here too
            stem = Path(path).stem
            if any(d.startswith(f"{items.DONE}/{stem}") for d in dirty):
                found.append(path)
    return found


def keep_leftovers(git: Repo, root: Path) -> str | None:
    """Commit what an interrupted runner left, so every command can go on
    (and the record of the attempt is kept)."""
    found = leftovers(git, root)
    if not found:
        return None
    ids = sorted({m.group(1) for p in found if (m := _ITEM_ID.search(Path(p).stem))})
    return git.commit(
        found,
        "swamp: keep what an interrupted runner left",
        [("Swamp-Item", i) for i in ids],
    )
