"""A run's outcome, written into its queue item: the item moves to done/ with
its result and audit record on success, and stays in queue/ with its state
(held, failed…) otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from swamp import items, paths, secrets
from swamp.engine.state import JobStatus, RunState, RunStatus
from swamp.errors import SwampError
from swamp.fsutil import remove
from swamp.identity import ci_run_url, runner_identity, who
from swamp.items import Item, ItemState

if TYPE_CHECKING:
    from swamp.gitrepo import CommitInfo, Repo


def detail(state: RunState) -> str:
    match state.state:
        case RunStatus.HELD:
            held = [j for j, s in state.jobs.items() if s.state == JobStatus.HELD]
            return (
                f"release with: swamp workflow release {held[0]} --run {state.id}" if held else ""
            )
        case RunStatus.FAILED | RunStatus.STOPPED | RunStatus.PAUSED:
            return state.reason or ""
        case (
            RunStatus.CREATED
            | RunStatus.RUNNING
            | RunStatus.SUCCEEDED
            | RunStatus.CANCELLED
            | RunStatus.INTERRUPTED
        ):
            return ""
        case _:
            assert_never(state.state)


def stored_state(run: RunStatus) -> ItemState:
    """What the item's file says of a run that stopped short of success: the
    states that need a person as they are; any other counts as failed."""
    match run:
        case RunStatus.HELD:
            return ItemState.HELD
        case RunStatus.FAILED:
            return ItemState.FAILED
        case RunStatus.PAUSED:
            return ItemState.PAUSED
        case RunStatus.STOPPED:
            return ItemState.STOPPED
        case RunStatus.INTERRUPTED:
            return ItemState.INTERRUPTED
        case RunStatus.CREATED | RunStatus.RUNNING | RunStatus.CANCELLED:
            return ItemState.FAILED
        case RunStatus.SUCCEEDED:  # not stored: the item moves to done/
            return ItemState.SUCCEEDED
        case _:
            assert_never(run)


def failed_step(state: RunState) -> str | None:
    failed = state.failed_steps()
    return f"{failed[0][0]}/{failed[0][1]}" if failed else None


def record_outcome(root: Path, state: RunState, audit: dict[str, Any] | None = None) -> None:
    """Write a run's outcome into its queue item. Called after every run that
    belongs to an item, whichever command started or continued it.

    `audit` is what the runner verified itself (approvals, who executes); the
    audit record takes nothing else from the item or the journal."""
    if state.item is None or not items.ID_PATTERN.fullmatch(state.item):
        return
    item = items.existing(root, state.item)
    if item is None:
        return
    if state.state == RunStatus.SUCCEEDED:
        # The audit comes from `audit`, never from the item's own fields.
        item.record_success(state.id, _result(root, item, state, dict(item.claim), audit or {}))
        _move_to_done(root, item, state.id)
        return
    held = [j for j, s in state.jobs.items() if s.state == JobStatus.HELD]
    step = failed_step(state)
    item.record_run(
        state.id,
        stored_state(state.state),
        held_job=held[0] if state.state == RunStatus.HELD and held else None,
        failed_step=step if step and state.state != RunStatus.HELD else None,
    )
    item.save()


def _result(
    root: Path, item: Item, state: RunState, claim: dict[str, Any], audit: dict[str, Any]
) -> dict[str, Any]:
    outputs: dict[str, Any]
    if state.kind == "method":
        job = next(iter(state.jobs.values()))
        step = next(iter(job.steps.values()), None)
        outputs = step.outputs if step else {}
    else:
        outputs = state.outputs()
    result: dict[str, Any] = {
        "status": RunStatus.SUCCEEDED,
        "run": state.id,
        "startedAt": state.created,
        "endedAt": state.updated,
        "outputs": secrets.mask(outputs),
        "executedBy": audit.get("executedBy") or who(None, root),
        "host": runner_identity(),
    }
    url = ci_run_url()
    if url:
        result["ciRunUrl"] = url
    if audit.get("approvedBy") is not None:
        result["approvedBy"] = audit["approvedBy"]
    if audit.get("pullRequest"):
        result["pullRequest"] = audit["pullRequest"]
    released = [
        {"job": j, "by": s.released_by, "at": s.released_at}
        | ({"commit": s.released_commit} if s.released_commit else {})
        for j, s in state.jobs.items()
        if s.released_by
    ]
    if released:
        result["releasedBy"] = released
    result.update(_from_git(root, item, claim))
    if audit.get("requestedBy"):  # the staging commit the approval check verified
        result["requestedBy"] = audit["requestedBy"]
    masked: dict[str, Any] = secrets.mask(result)
    return masked


def _from_git(root: Path, item: Item, claim: dict[str, Any]) -> dict[str, Any]:
    """Who requested the item as git knows it, and the commits involved."""
    # start-up time: loaded only on this path
    from swamp.gitrepo import GitError, Repo

    try:
        with Repo(root) as git:
            added = git.added_by(item.path.relative_to(root).as_posix())
            head = git.head()
    except GitError:
        return {}  # not in git: the item's own requestedBy is the record
    out: dict[str, Any] = {}
    commits: dict[str, str] = {}
    if added is not None:
        out["requestedBy"] = {
            "name": added.author,
            "email": added.email,
            "commit": added.sha,
            "at": added.date,
        }
        commits["added"] = added.sha
    if claim.get("commit"):
        commits["claim"] = claim["commit"]
    if head:
        commits["executedAt"] = head
    if commits:
        out["commits"] = commits
    return out


def release_commit(root: Path, item: Item, staged: Mapping[str, Any]) -> CommitInfo | None:
    """The commit that staged `staged`, the item's release, as git knows it:
    its author is who released the hold, whatever the release's own `by`
    says. None when the release is not committed (an operator's local one)."""
    # start-up time: loaded only on this path
    from swamp.gitrepo import GitError, Repo

    try:
        git = Repo(root)
    except GitError:
        return None
    rel = item.path.relative_to(root).as_posix()
    wanted = items.canonical(dict(staged))
    try:
        if _release_at(git, "HEAD", rel) != wanted:
            return None
        if git.is_shallow():
            git.deepen()  # never guess from a history that is cut off
        for commit in git.history(rel):
            if _release_at(git, commit.sha, rel) != wanted:
                break  # a merge brought it in unexplained: no author to name
            parent = git.parent(commit.sha)
            if parent is None or _release_at(git, parent, rel) != wanted:
                return commit
    except GitError as e:
        raise SwampError(
            f"could not find the commit that staged the release of item {item.id} ({e}); "
            "check out the whole history (fetch-depth: 0)"
        ) from None
    raise SwampError(
        f"no commit on this branch staged the release of item {item.id}; "
        "stage it with `swamp workflow release JOB --stage` in a reviewed change"
    )


def _release_at(git: Repo, ref: str, rel: str) -> str | None:
    """The item's release at `ref`, canonically (None if it has none)."""
    # start-up time: loaded only on this path
    from swamp.loader import LoadError, load_yaml_text

    data = git.show(ref, rel)
    if data is None:
        return None
    try:
        doc = load_yaml_text(data.decode("utf-8"), rel)
    except (LoadError, UnicodeDecodeError):
        return None
    release = doc.data.get("release") if isinstance(doc.data, dict) else None
    return items.canonical(release) if release is not None else None


def _move_to_done(root: Path, item: Item, run_id: str) -> None:
    """Write the finished item under done/ first, then remove it from queue/:
    a crash in between leaves both, never neither. Doing it again after such
    a crash finds the done/ record of the same run and only removes the
    queue/ file, so an item never gets two records of one run."""
    paths.inside(root, items.DONE)  # never a results folder outside the repository
    original = item.path
    target = _recorded(root, item, run_id)
    if target is None:
        target = items.done_dir(root) / item.path.name
        n = 1
        while target.exists():  # the same invocation ran before: keep both records
            n += 1
            target = items.done_dir(root) / f"{item.path.stem}-{n}{item.path.suffix}"
        item.path = target
        item.save()
    item.path = target
    remove(original)
    item.done = True


def _recorded(root: Path, item: Item, run_id: str) -> Path | None:
    """The done/ record of this item's run `run_id`, if one was written."""
    for path in sorted(items.done_dir(root).glob(f"{item.path.stem}*{item.path.suffix}")):
        done = items.read_item(path, done=True)
        result = done.result if done is not None else None
        if result is not None and result.get("run") == run_id:
            return path
    return None
