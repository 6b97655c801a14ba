"""End to end on a forge: the workflows `swamp init` writes, their `run:` steps
executed in order with GitHub's environment, on clones of a bare origin whose
main is protected (see actions_harness)."""

from __future__ import annotations

import json
from pathlib import Path

import github_api
from actions_harness import BOT_EMAIL, Event, Forge, JobResult, git
from repo_helpers import BROKEN, GATED, SHELL_MODEL, marks, swamp

COMMIT = "0123456789abcdef0123456789abcdef01234567"
INSTALL = f"swamp @ git+https://github.com/acme/swamp@{COMMIT}"
APP = {"vars": {"SWAMP_APP_CLIENT_ID": "Iv1.harness"}, "secrets": {"SWAMP_APP_PRIVATE_KEY": "k"}}


def _forge(tmp_path: Path) -> Forge:
    from swamp.commands.init import init

    seed = tmp_path / "seed"
    init(seed, install=INSTALL)
    (seed / "models" / "sh.yaml").write_text(SHELL_MODEL)
    (seed / "workflows" / "gated.yaml").write_text(GATED)
    (seed / "workflows" / "broken.yaml").write_text(BROKEN)
    with (seed / ".gitignore").open("a") as f:
        f.write("marks.log\n")
    return Forge(tmp_path, seed)


def _workflow(forge: Forge, name: str) -> Path:
    return forge.origin.parent / "seed" / ".github" / "workflows" / name


def _pull_request(forge: Forge, who: str, branch: str, *swamp_args: str) -> Path:
    """A person stages something on a branch and pushes it (a pull request)."""
    work = forge.clone(f"{who}-{branch}")
    git(work, "checkout", "--quiet", "-b", branch)
    swamp(work, *swamp_args, "--commit")
    git(work, "push", "--quiet", "origin", branch)
    return work


def _execute(forge: Forge, event: Event, **kwargs: object) -> JobResult:
    return forge.run_job(_workflow(forge, "swamp-execute.yml"), "execute", event, **APP, **kwargs)  # type: ignore[arg-type]


def _queue(forge: Forge) -> list[dict[str, object]]:
    reader = forge.tmp / f"reader-{forge.runs}"
    forge.runs += 1
    git(forge.tmp, "clone", "--quiet", str(forge.origin), str(reader))
    return json.loads(swamp(reader, "queue", "list", "--json").stdout)  # type: ignore[no-any-return]


def test_pull_request_plan_merge_execute_hold_release_execute(tmp_path: Path) -> None:
    forge = _forge(tmp_path)
    _pull_request(forge, "alice", "stage-gated", "workflow", "queue", "gated")

    # The plan job on the pull request: validates, plans, reports in the summary.
    plan = forge.run_job(
        _workflow(forge, "swamp-plan.yml"),
        "plan",
        forge.event("pull_request", ref="refs/pull/1/merge", head_ref="stage-gated"),
    )
    assert plan.ok, plan.stderr
    assert plan.install == f"'{INSTALL}'"
    assert "gated" in plan.summary
    assert plan.outputs["markdown"].startswith(plan.summary.strip().splitlines()[0])
    comment = forge.run_job(
        _workflow(forge, "swamp-plan.yml"),
        "comment",
        forge.event("pull_request", ref="refs/pull/1/merge", head_ref="stage-gated"),
    )
    assert comment.skipped  # the sticky comment is opt-in (vars.SWAMP_PLAN_COMMENT)

    merged = forge.merge("stage-gated")

    # With only GITHUB_TOKEN the protected branch refuses the claim: nothing runs.
    refused = forge.run_job(_workflow(forge, "swamp-execute.yml"), "execute", merged)
    assert not refused.ok
    assert "git push failed" in refused.stderr
    assert forge.head() == merged.sha  # nothing reached main
    assert marks(refused.workspace) == []  # type: ignore[arg-type]

    # With the App token the claim and the results land; the run stops at the hold.
    held = _execute(forge, merged)
    assert held.ok, held.stderr
    assert held.concurrency == "swamp-execute"
    assert marks(held.workspace) == ["built"]  # type: ignore[arg-type]
    assert held.summary.startswith("## swamp queue execute\n")
    assert "| **held** |" in held.summary
    assert "### Holds\n" in held.summary
    (item,) = _queue(forge)
    assert item["state"] == "held"

    # The bot's own push starts a run that does nothing and replaces no pending run.
    bot_push = forge.push_event()
    assert bot_push.payload["head_commit"]["committer"]["email"] == BOT_EMAIL
    skipped = _execute(forge, bot_push)
    assert skipped.skipped
    assert skipped.concurrency == f"swamp-skip-{int(forge.runs) + 1000}"

    # The release, as a reviewed pull request, merged, then executed.
    _pull_request(forge, "bob", "release-ship", "workflow", "release", "ship", "--stage")
    release_plan = forge.run_job(
        _workflow(forge, "swamp-plan.yml"),
        "plan",
        forge.event("pull_request", ref="refs/pull/2/merge", head_ref="release-ship"),
    )
    assert release_plan.ok, release_plan.stderr
    released = _execute(forge, forge.merge("release-ship"))
    assert released.ok, released.stderr
    assert marks(released.workspace) == ["shipped"]  # type: ignore[arg-type]
    assert _queue(forge) == []
    done = git(forge.origin, "ls-tree", "--name-only", "main", "done/").splitlines()
    assert [p for p in done if p != "done/.gitkeep"] == [
        p for p in done if p.startswith("done/gated-") and p.endswith(".yaml")
    ]
    assert len(done) == 2


def test_a_dispatched_resume_from_the_default_branch_only(tmp_path: Path) -> None:
    forge = _forge(tmp_path)
    _pull_request(forge, "alice", "stage-broken", "workflow", "queue", "broken")
    failed = _execute(forge, forge.merge("stage-broken"))
    assert not failed.ok
    assert marks(failed.workspace) == ["first"]  # type: ignore[arg-type]
    (item,) = _queue(forge)
    assert item["state"] == "failed"

    # The fix is reviewed and merged; the failed item is then resumed by hand.
    fixer = forge.clone("fixer")
    git(fixer, "checkout", "--quiet", "-b", "fix")
    (fixer / "FIXED").write_text("")
    git(fixer, "add", "FIXED")
    git(fixer, "commit", "--quiet", "-m", "fix")
    git(fixer, "push", "--quiet", "origin", "fix")
    forge.merge("fix")
    workflow = _workflow(forge, "swamp-execute.yml")

    # Not from another branch; never a flag smuggled in through the name.
    other = forge.event("workflow_dispatch", ref="refs/heads/fix", inputs={"selector": "item"})
    assert forge.run_job(workflow, "dispatch", other).skipped
    smuggled = forge.event(
        "workflow_dispatch", inputs={"selector": "item", "name": f"{item['id']} --reclaim"}
    )
    refused = forge.run_job(workflow, "dispatch", smuggled, **APP)  # type: ignore[arg-type]
    assert not refused.ok
    assert "::error::name must match" in refused.stdout
    assert marks(refused.workspace) == []  # type: ignore[arg-type]

    # A deploy key this time: the other documented way past the protection.
    dispatch = forge.event("workflow_dispatch", inputs={"selector": "item", "name": item["id"]})
    resumed = forge.run_job(
        workflow, "dispatch", dispatch, secrets={"SWAMP_DEPLOY_KEY": "-----BEGIN KEY-----"}
    )
    assert resumed.ok, resumed.stderr
    assert resumed.environment == "swamp-dispatch"
    assert resumed.concurrency == f"swamp-dispatch-{forge.runs + 1000}"
    assert marks(resumed.workspace) == ["last"]  # type: ignore[arg-type]
    assert _queue(forge) == []


def test_an_invalid_pull_request_fails_the_plan_with_file_annotations(tmp_path: Path) -> None:
    forge = _forge(tmp_path)
    work = forge.clone("carol")
    git(work, "checkout", "--quiet", "-b", "bad")
    (work / "workflows" / "typo.yaml").write_text(
        "name: typo\njobs:\n  a:\n    steps: [{name: s, model: sh, method: mrak}]\n"
    )
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "a typo")
    git(work, "push", "--quiet", "origin", "bad")
    plan = forge.run_job(
        _workflow(forge, "swamp-plan.yml"),
        "plan",
        forge.event("pull_request", ref="refs/pull/3/merge", head_ref="bad"),
    )
    assert not plan.ok  # a required check that fails: the change cannot merge
    assert plan.step("Validate").outcome == "failure"
    assert plan.step("Plan").outcome == "failure"  # runs anyway, and says INVALID
    assert "INVALID" in plan.summary
    annotations = [line for line in plan.stdout.splitlines() if line.startswith("::error ")]
    assert annotations == [
        "::error file=workflows/typo.yaml,line=4,col=42::jobs.a.steps[0].method: model 'sh' "
        "has no method 'mrak' (known: absent, echo, exists, fail, mark, sleep, touch)"
    ]


def test_the_sharded_workflow_spreads_the_queue_over_its_shards(tmp_path: Path) -> None:
    forge = _forge(tmp_path)
    work = forge.clone("dave")
    git(work, "checkout", "--quiet", "-b", "many")
    for n in range(4):
        swamp(work, "method", "queue", "sh", "mark", "--input", f"name=m{n}", "--commit")
    git(work, "push", "--quiet", "origin", "many")
    forge.merge("many")
    workflow = _workflow(forge, "swamp-execute-sharded.yml")
    dispatch = forge.event("workflow_dispatch", inputs={"selector": "methods"})
    ran: list[str] = []
    for shard in (1, 2, 3, 4):
        job = forge.run_job(workflow, "execute", dispatch, matrix={"shard": shard}, **APP)  # type: ignore[arg-type]
        assert job.ok, job.stderr
        assert job.concurrency == f"swamp-sharded-{forge.runs + 1000}-{shard}"
        ran += marks(job.workspace)  # type: ignore[arg-type]
    assert sorted(ran) == ["m0", "m1", "m2", "m3"]  # each item once, on one shard
    assert _queue(forge) == []


def test_the_plan_comment_is_one_comment_updated_in_place(tmp_path: Path) -> None:
    forge = _forge(tmp_path)
    work = _pull_request(forge, "alice", "stage-gated", "workflow", "queue", "gated")
    pr = forge.event("pull_request", ref="refs/pull/1/merge", head_ref="stage-gated")

    def plan_and_comment() -> tuple[JobResult, JobResult]:
        plan = forge.run_job(_workflow(forge, "swamp-plan.yml"), "plan", pr)
        assert plan.ok, plan.stderr
        comment = forge.run_job(
            _workflow(forge, "swamp-plan.yml"),
            "comment",
            pr,
            vars={"SWAMP_PLAN_COMMENT": "true"},
            needs={"plan": {"result": "success", "outputs": plan.outputs}},
        )
        assert comment.ok, comment.stderr
        return plan, comment

    with github_api.serve("ghs_harness_github_token") as api:
        forge.api_url = api.url
        for n in range(100):  # a busy review: the plan's comment lands on page 2
            api.add(forge.repository, 1, f"review remark {n}")
        plan, comment = plan_and_comment()
        assert "added the plan comment" in comment.stdout
        *_, sticky = api.of(forge.repository, 1)
        assert sticky["body"] == f"<!-- swamp-plan -->\n{plan.outputs['markdown']}\n"
        assert "gated" in sticky["body"]

        # The pull request changes; the next plan updates the same comment.
        swamp(work, "method", "queue", "sh", "mark", "--input", "name=more")
        git(work, "add", "queue")
        git(work, "commit", "--quiet", "-m", "stage more")
        git(work, "push", "--quiet", "origin", "stage-gated")
        pr = forge.event("pull_request", ref="refs/pull/1/merge", head_ref="stage-gated")
        again, comment = plan_and_comment()
        assert f"updated the plan comment {sticky['id']}" in comment.stdout
        comments = api.of(forge.repository, 1)
        assert len(comments) == 101
        assert comments[-1]["id"] == sticky["id"]
        assert comments[-1]["body"] == f"<!-- swamp-plan -->\n{again.outputs['markdown']}\n"
        assert "sh.mark" in comments[-1]["body"]
        assert [m for m, _ in api.requests].count("PATCH") == 1
        assert [m for m, _ in api.requests].count("POST") == 1
