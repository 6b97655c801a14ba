from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swamp import freeze, github, items, output
from swamp.engine.state import RunStatus
from swamp.errors import SwampError, UsageError
from swamp.identity import who
from swamp.inputs import parse_inputs
from swamp.publish import NONE, Publish, open_repo, prepare, record
from swamp.queue.claims import pusher
from swamp.queue.decision import Report
from swamp.queue.executor import Executor
from swamp.queue.purge import purge
from swamp.queue.selection import Selector, Shard, select
from swamp.queue.stage import When, stage
from swamp.queue.status import DisplayState, Disposition, lapsed, silent_for, status
from swamp.repo import Repository
from swamp.timing import iso, parse_iso, utcnow
from swamp.validate import load_repository

if TYPE_CHECKING:
    from swamp.approval import Approvals
    from swamp.gitrepo import Repo


def _stage(
    repo_path: Path | None,
    kind: str,
    target: str,
    pairs: list[str],
    input_files: list[Path],
    *,
    note: str | None,
    when: When,
    by: str | None,
    as_json: bool,
    publish: Publish = NONE,
) -> int:
    repo, git = open_repo(repo_path, publish)
    requester = who(by, repo.root)
    item = stage(
        repo,
        kind,
        target,
        parse_inputs(pairs, input_files),
        by=requester,
        note=note,
        when=when,
    )
    rel = item.path.relative_to(repo.root).as_posix()
    sha = record(
        git,
        publish,
        f"swamp: queue {kind} {item.target} ({item.id})",
        [("Swamp-Item", item.id), ("Swamp-Requested-By", requester)],
    )
    if as_json:
        output.as_json({"item": item.id, "file": rel, "commit": sha, **item.fields()})
        return 0
    output.out(f"queued {item.id}: {kind} {item.target} -> {rel}")
    if item.request.not_before or item.request.window:
        now = utcnow()
        st = status(repo, item, now)
        not_before = item.request.not_before
        if not_before and parse_iso(not_before) <= now:
            output.out(f"  due now: {not_before} is in the past, so the next execute runs it")
        else:
            output.out(f"  {st.state}: {st.detail}" if st.detail else f"  {st.state}")
    if sha:
        output.out(f"  committed {sha[:10]}" + (" and pushed" if publish.push else ""))
        output.out(f"  execute it with: swamp queue execute --item {item.id}")
    else:
        output.out(f"  commit it for review; execute it with: swamp queue execute --item {item.id}")
    return 0


def queue_workflow(
    repo_path: Path | None, name: str, pairs: list[str], input_files: list[Path], **kw: Any
) -> int:
    return _stage(repo_path, "workflow", name, pairs, input_files, **kw)


def queue_method(
    repo_path: Path | None,
    model: str,
    method: str,
    pairs: list[str],
    input_files: list[Path],
    **kw: Any,
) -> int:
    return _stage(repo_path, "method", f"{model}.{method}", pairs, input_files, **kw)


def schedule_method(
    repo_path: Path | None,
    model: str,
    method: str,
    pairs: list[str],
    input_files: list[Path],
    *,
    at: str | None,
    window: str | None,
    not_after: str | None,
    **kw: Any,
) -> int:
    """`method schedule`: a method call for a time (--at) or a window, never both."""
    if (at is None) == (window is None):
        raise UsageError("give exactly one of --at TIME or --window NAME")
    when = When(at, not_after, window, not_before_option="--at")
    return queue_method(repo_path, model, method, pairs, input_files, when=when, **kw)


# Outcomes of items that ran (their files changed and are committed).
RAN: tuple[str, ...] = (
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.HELD,
    RunStatus.PAUSED,
    RunStatus.STOPPED,
)
# The order outcomes are summed up in: what ran, then what did not and why.
OUTCOMES: tuple[str, ...] = (
    *RAN,
    Disposition.WOULD_RUN,
    DisplayState.WAITING,
    DisplayState.EXPIRED,
    DisplayState.STALE,
    Disposition.INVALID,
    Disposition.FROZEN,
    Disposition.SKIPPED,
)
# Outcomes that make `queue execute` exit 1.
FAILING: frozenset[str] = frozenset(
    {
        RunStatus.FAILED,
        RunStatus.STOPPED,
        DisplayState.STALE,
        Disposition.INVALID,
        Disposition.UNAPPROVED,
        Disposition.FROZEN,
        Disposition.REFUSED,
    }
)


def _outcome_order(outcome: str) -> int:
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else len(OUTCOMES)


def _refuse_unknown_name(repo: Repository, selector: Selector) -> None:
    """A selector naming no workflow or method at all is a typo, not an empty
    queue: say so (exit 1), with the names it may have meant."""
    if selector.workflow is not None:
        option, name, known = "--workflow", selector.workflow, set(repo.workflows)
    elif selector.method is not None:
        option, name = "--method", selector.method
        known = {m for model in repo.models.values() for m in model.methods}
        known |= {f"{model.name}.{m}" for model in repo.models.values() for m in model.methods}
    else:
        return
    if name in known:
        return
    near = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    kind = option.removeprefix("--")
    raise SwampError(f"{option} {name!r}: no {kind} of that name is defined{hint}")


def _refuse_frozen(repo: Repository) -> None:
    frozen = freeze.refusal(repo.root)
    if frozen is not None:
        raise SwampError(f"queue execute refused: {frozen}")


def execute(
    repo_path: Path | None,
    selector: Selector,
    *,
    dry_run: bool,
    concurrency: int | None,
    by: str | None,
    as_json: bool,
    publish: Publish = NONE,
    shard: str | None = None,
    reclaim: bool = False,
    rerun_unknown: bool = False,
) -> int:
    selector.check()
    if reclaim and selector.item is None:
        raise UsageError("--reclaim resumes one item whose runner died: use it with --item ID")
    parts = Shard.parse(shard) if shard else None
    repo, git = open_repo(repo_path, NONE if dry_run else publish)
    if not dry_run:
        _refuse_frozen(repo)
    pushing = git is not None and publish.push and not dry_run
    if pushing and git is not None:
        # start-up time: a command loads only what it runs
        from swamp.queue import results

        for item_id, sha in results.stranded(git, include_origin=False).items():
            try:
                if results.land(git, repo.root, item_id, sha):
                    output.out(
                        f"{item_id}: landed its result kept at {results.result_ref(item_id)}"
                    )
            except results.Refused as e:
                output.err(f"swamp: warning: {e}")
        _catch_up(git)
        if reclaim and selector.item is not None and not _may_reclaim(repo, git, selector.item):
            return 0
    chosen, broken = select(repo.root, selector, parts)
    for entry in broken:
        output.err(f"swamp: warning: skipping {entry.problem}")
    if not chosen:
        _refuse_unknown_name(repo, selector)
        github.append_summary(github.execute_summary([], dry_run=dry_run))
        if as_json:
            output.as_json({"items": [], "summary": {}})
        else:
            output.out("nothing to execute: no queued item matches")
        return 0
    # Only swamp.yaml blocks everything; an item whose own definitions have
    # problems is reported as invalid and the others run (see Executor.decide).
    repo.require_valid([])
    if repo.problems:
        files = ", ".join(sorted({p.file for p in repo.problems}))
        output.err(
            f"swamp: warning: {files} cannot run (see `swamp validate`); "
            "items that use them are reported as invalid, the others run"
        )

    def tell(report: Report) -> None:
        if not as_json:
            detail = f": {report.detail}" if report.detail else ""
            colour = output.OUTCOME_COLOURS.get(report.outcome)
            shown = output.paint(report.outcome, colour) if colour else report.outcome
            output.out(f"{report.item} {report.target}: {shown}{detail}")

    approvals = _approvals(repo) if not dry_run else None
    executor = Executor(
        repo,
        who(by, repo.root),
        dry_run=dry_run,
        quiet=as_json,
        reclaim=reclaim,
        rerun_unknown=rerun_unknown,
        approvals=approvals,
        on_report=tell,
    )
    claim = pusher(git) if git is not None and publish.push else None
    keeper = None
    publisher = None
    if pushing and git is not None:
        # start-up time: a command loads only what it runs
        from swamp.queue.lease import Keeper
        from swamp.queue.results import Publisher

        keeper = Keeper(repo.root, repo.config.claim_timeout)
        publisher = Publisher(git, repo.root, keeper)
        executor.around, executor.after = keeper.watch, publisher.after
        keeper.start()
    try:
        reports = executor.run_all(chosen, selector, concurrency or 1, claim)
    finally:
        if keeper is not None:
            keeper.stop()
        if approvals is not None:
            approvals.close()
    github.append_summary(github.execute_summary(reports, dry_run=dry_run))
    summary: dict[str, int] = {}
    # dict.fromkeys, not a set: outcomes outside OUTCOMES keep their first
    # appearance's order, whatever the hash seed.
    for outcome in sorted(dict.fromkeys(r.outcome for r in reports), key=_outcome_order):
        summary[outcome] = sum(r.outcome == outcome for r in reports)
    ran = [r for r in reports if r.outcome in RAN]
    if ran:
        record(
            git,
            publish,
            f"swamp: execute {_count(len(ran), 'item')}: "
            + ", ".join(f"{n} {k}" for k, n in summary.items() if k in RAN),
            [t for r in ran for t in (("Swamp-Item", r.item), ("Swamp-Run", r.run or "?"))],
        )
    elif not dry_run:  # expired items marked, stale claims given back
        record(
            git,
            publish,
            "swamp: queue execute: " + ", ".join(f"{n} {k}" for k, n in summary.items()),
            [("Swamp-Item", r.item) for r in reports],
        )
    if as_json:
        output.as_json({"items": [r.as_dict() for r in reports], "summary": summary})
    else:
        parts_ = [f"{n} {k}" for k, n in summary.items()]
        verb = "would run" if dry_run else "ran"
        count = summary.get(Disposition.WOULD_RUN, 0) if dry_run else len(ran)
        output.out(f"{verb} {count} of {len(reports)} selected: " + ", ".join(parts_))
    if publisher is not None and publisher.stranded:
        # start-up time: a command loads only what it runs
        from swamp.queue.results import RECOVER

        output.err(
            f"swamp: {_count(len(publisher.stranded), 'result')} could not be pushed "
            f"({', '.join(publisher.stranded)}); nothing is lost: land "
            f"{'them' if len(publisher.stranded) > 1 else 'it'} with `{RECOVER}`"
        )
        return 1
    return 1 if any(r.outcome in FAILING for r in reports) else 0


def _catch_up(git: Repo) -> None:
    """Results landed on origin are in the work tree too: commit them here and
    rebase (they become empty, as origin has them), so the branch is origin's."""
    # start-up time: a command loads only what it runs
    from swamp.gitrepo import OWNED

    if git.commit(OWNED, "swamp: results landed from side refs"):
        git.push()


def _may_reclaim(repo: Repository, git: Repo, item_id: str) -> bool:
    """Before taking an item over: land a result its runner left on origin
    (nothing runs again), refuse while its lease is alive, and start from its
    journal's checkpoint."""
    # start-up time: a command loads only what it runs
    from swamp.queue import lease, results

    sha = results.stranded(git, include_origin=True).get(item_id)
    if sha is not None:
        try:
            results.land(git, repo.root, item_id, sha)
        except results.Refused as e:  # not a runner's result: the takeover decides alone
            output.err(f"swamp: warning: {e}")
        else:
            _catch_up(git)
            output.out(f"{item_id}: landed the result its runner left; nothing ran again")
            return False
    current = lease.remote_lease(git, item_id)
    if current is None:
        return True
    claimed = items.existing(repo.root, item_id)
    claim = claimed.claim if claimed is not None else {}
    silence = silent_for(claim, current.renewed_at, utcnow())
    if not lapsed(silence, repo.config.claim_timeout):
        output.out(
            f"{item_id}: running: its runner {current.runner} renewed its lease "
            f"{silence:.0f}s ago (at {current.renewed_at}); it can be taken over only once "
            f"the lease has lapsed for defaults.claimTimeout ({repo.config.claim_timeout:.0f}s)"
        )
        return False
    restored = lease.restore_checkpoint(git, repo.root, current)
    if restored:
        output.out(f"{item_id}: resuming from the journal its runner checkpointed")
    return True


def recover(repo_path: Path | None, *, resume: bool = False) -> int:
    """Land every result kept on a side ref (here or on origin), commit and
    push what an interrupted runner of this checkout left; with `resume`,
    continue the items it was running."""
    # start-up time: a command loads only what it runs
    from swamp.queue import results
    from swamp.repo import find_root

    root = find_root() if repo_path is None else repo_path.resolve()
    git = prepare(root, Publish(commit=True, push=True))
    assert git is not None
    found = results.stranded(git, include_origin=True)
    code = 0
    for item_id, sha in sorted(found.items()):
        try:
            if results.land(git, root, item_id, sha):
                output.out(f"{item_id}: landed its result from {results.result_ref(item_id)}")
            else:
                output.out(f"{item_id}: its result was already on origin")
        except results.Refused as e:
            output.error(str(e))
            code = 1
    _catch_up(git)
    repo = load_repository(root)
    now = utcnow()
    interrupted = {
        e.id: e
        for e in items.iter_items(root)
        if isinstance(e, items.Item) and status(repo, e, now).state == DisplayState.INTERRUPTED
    }
    for item_id, item in interrupted.items():
        if resume:
            code = max(
                code,
                execute(
                    repo_path,
                    Selector(item=item_id),
                    dry_run=False,
                    concurrency=None,
                    by=None,
                    as_json=False,
                    publish=Publish(commit=True, push=True),
                ),
            )
        elif item.state == items.ItemState.INTERRUPTED:  # a signal stopped its run
            output.out(
                f"{item_id}: interrupted (run {item.run or '?'}); continue it with "
                f"`swamp queue execute --item {item_id}` or `swamp queue recover --resume`"
            )
        else:
            output.out(
                f"{item_id}: interrupted here; continue it with `swamp queue recover --resume`"
            )
    if not found and not interrupted:
        output.out("nothing to recover: every result is on origin")
    return code


def _approvals(repo: Repository) -> Approvals | None:
    # start-up time: a command loads only what it runs
    from swamp.approval import approvals_for

    return approvals_for(repo)


def purge_queue(
    repo_path: Path | None,
    selector: Selector,
    *,
    dry_run: bool,
    as_json: bool,
    publish: Publish = NONE,
) -> int:
    repo, git = open_repo(repo_path, NONE if dry_run else publish)
    chosen, _ = select(repo.root, selector)
    if not chosen:
        _refuse_unknown_name(repo, selector)
    reports = [purge(repo, item, dry_run=dry_run) for item in chosen]
    purged = [r for r in reports if r.outcome == Disposition.PURGED]
    if purged:
        record(
            git,
            publish,
            f"swamp: purge {_count(len(purged), 'item')}: " + ", ".join(r.target for r in purged),
            [("Swamp-Item", r.item) for r in purged],
        )
    if as_json:
        output.as_json([r.as_dict() for r in reports])
    elif not reports:
        output.out("nothing to purge: no queued item matches")
    else:
        for r in reports:
            purged_run = r.run and r.outcome == Disposition.PURGED
            extra = f" (run {r.run} cancelled)" if purged_run else ""
            detail = f": {r.detail}" if r.detail else ""
            output.out(f"{r.item} {r.target}: {r.outcome}{detail}{extra}")
        done = sum(r.outcome in (Disposition.PURGED, Disposition.WOULD_PURGE) for r in reports)
        verb = "would purge" if dry_run else "purged"
        refused = sum(r.outcome == Disposition.REFUSED for r in reports)
        output.out(
            f"{verb} {done} of {len(reports)} selected"
            + (f", {refused} refused" if refused else "")
        )
    return 1 if any(r.outcome == Disposition.REFUSED for r in reports) else 0


def freeze_repo(
    repo_path: Path | None,
    *,
    reason: str,
    by: str | None,
    as_json: bool = False,
    publish: Publish = NONE,
) -> int:
    repo, git = open_repo(repo_path, publish)
    existing = freeze.read(repo.root)
    if existing is not None:
        raise SwampError(f"already frozen: {freeze.describe(existing)}")
    actor, at = who(by, repo.root), iso(utcnow())
    freeze.freeze(repo.root, by=actor, at=at, reason=reason)
    sha = record(git, publish, f"swamp: freeze: {reason}", [("Swamp-Frozen-By", actor)])
    if as_json:
        output.as_json(
            {"frozen": True, "frozenBy": actor, "frozenAt": at, "reason": reason, "commit": sha}
        )
        return 0
    where = "committed" + (" and pushed" if publish.push else "") if sha else "commit it"
    output.out(
        f"frozen: nothing will run until `swamp unfreeze` ({freeze.FREEZE_FILE} written; "
        f"{where} so every runner sees it)"
    )
    return 0


def unfreeze_repo(
    repo_path: Path | None,
    *,
    by: str | None = None,
    as_json: bool = False,
    publish: Publish = NONE,
) -> int:
    repo, git = open_repo(repo_path, publish)
    if not freeze.unfreeze(repo.root):
        raise SwampError("the repository is not frozen")
    sha = record(git, publish, "swamp: unfreeze", [("Swamp-Unfrozen-By", who(by, repo.root))])
    if as_json:
        output.as_json({"frozen": False, "commit": sha})
        return 0
    output.out(f"unfrozen: {freeze.FREEZE_FILE} removed")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
