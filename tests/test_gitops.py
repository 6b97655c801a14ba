"""--commit and --push on real git repositories: a bare origin and clones."""

from __future__ import annotations

from pathlib import Path

from git_helpers import clone, git, log, make_origin, message, status
from repo_helpers import GATED, swamp


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    origin = make_origin(tmp_path, workflows={"gated": GATED})
    return origin, clone(origin, tmp_path / "alice")


def test_queue_commit_makes_one_commit_with_trailers(tmp_path: Path) -> None:
    _, alice = _setup(tmp_path)
    out = swamp(
        alice, "method", "queue", "sh", "mark", "--input", "name=a", "--by", "alice", "--commit"
    ).stdout
    item_id = out.split()[1].rstrip(":")
    assert f"  committed {git(alice, 'rev-parse', 'HEAD')[:10]}" in out
    assert status(alice) == ""
    assert message(alice) == (
        f"swamp: queue method sh.mark ({item_id})\n\n"
        f"Swamp-Item: {item_id}\nSwamp-Requested-By: alice"
    )
    files = git(alice, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert files == [f"queue/sh-mark-a-{item_id}.yaml"]


def test_a_commit_uses_the_configured_identity_else_a_fallback(tmp_path: Path) -> None:
    from repo_helpers import invoke

    _, alice = _setup(tmp_path)
    anonymous = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    args = ("--repo", str(alice), "method", "queue", "sh", "mark", "--commit", "--input")
    assert invoke(*args, "name=a", unset=anonymous).returncode == 0
    assert git(alice, "log", "-1", "--format=%an <%ae>") == "swamp <swamp@localhost>"
    git(alice, "config", "user.name", "Alice Example")
    git(alice, "config", "user.email", "alice@example.com")
    assert invoke(*args, "name=b", unset=anonymous).returncode == 0
    assert git(alice, "log", "-1", "--format=%an <%ae>") == "Alice Example <alice@example.com>"


def test_uncommitted_changes_to_swamp_files_are_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    _, alice = _setup(tmp_path)
    model = alice / "models" / "sh.yaml"
    model.write_text(model.read_text() + "\n# edited\n")
    result = swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--commit", check=1)
    assert result.stderr == (
        "swamp: error: uncommitted changes to swamp's files (models/sh.yaml); commit or stash "
        "them first, so that what swamp commits is only its own work\n"
    )
    assert list((alice / "queue").glob("*.yaml")) == []
    # Changes outside swamp's files do not matter.
    git(alice, "checkout", "models/sh.yaml")
    (alice / "notes.txt").write_text("unrelated\n")
    swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--commit")
    assert status(alice) == "?? notes.txt"


def test_push_rebases_and_retries_when_another_clone_pushed_first(tmp_path: Path) -> None:
    origin, alice = _setup(tmp_path)
    bob = clone(origin, tmp_path / "bob")
    swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--push")
    # Bob has not fetched: his push is refused once, then rebased and retried.
    swamp(bob, "method", "queue", "sh", "mark", "--input", "name=b", "--push")
    subjects = log(origin, "main")
    assert [s.split(" (")[0] for s in subjects[:2]] == ["swamp: queue method sh.mark"] * 2
    assert len(git(origin, "ls-tree", "--name-only", "main", "queue/").splitlines()) == 2
    assert status(bob) == ""


def test_freeze_and_unfreeze_commit_and_push(tmp_path: Path) -> None:
    origin, alice = _setup(tmp_path)
    swamp(alice, "freeze", "--reason", "incident 7", "--by", "dave", "--push")
    assert log(origin, "main")[0] == "swamp: freeze: incident 7"
    assert "Swamp-Frozen-By: dave" in message(origin, "main")
    bob = clone(origin, tmp_path / "bob")
    assert (bob / "freeze.yaml").is_file()
    result = swamp(bob, "workflow", "run", "gated", check=1)
    assert "the repository is frozen by dave since " in result.stderr
    swamp(bob, "unfreeze", "--by", "erin", "--push")
    assert log(origin, "main")[0] == "swamp: unfreeze"
    assert git(origin, "ls-tree", "--name-only", "main", "freeze.yaml") == ""


def test_purge_commits_the_deletion(tmp_path: Path) -> None:
    origin, alice = _setup(tmp_path)
    swamp(alice, "method", "queue", "sh", "mark", "--input", "name=a", "--push")
    swamp(alice, "queue", "purge", "--all", "--push")
    assert log(origin, "main")[0] == "swamp: purge 1 item: sh.mark"
    assert git(origin, "ls-tree", "--name-only", "main", "queue/") == ""


def test_commit_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    from repo_helpers import make_repo

    repo = make_repo(tmp_path / "plain")
    result = swamp(repo, "method", "queue", "sh", "mark", "--input", "name=a", "--commit", check=1)
    assert result.stderr == (
        f"swamp: error: {repo.resolve()} is not in a git repository; --commit and --push need "
        "one (run `git init`, or drop those options)\n"
    )
    assert list((repo / "queue").glob("*.yaml")) == []


# Two steps: the second reads the first one's output.
DEPLOY_IN_TWO = """\
name: deploy
inputs:
  properties:
    env: {type: string, default: staging}
jobs:
  go:
    steps:
      - name: ship
        model: sh
        method: echo
        inputs: {value: "${{ inputs.env }}"}
      - name: after
        model: sh
        method: echo
        inputs: {value: "${{ steps.ship.outputs.value }}"}
"""

LEAKY = """\
name: leaky
type: command/shell
methods:
  login:
    arguments:
      run: 'curl -H "Authorization: ${{ secrets.SWAMP_TEST_SECRET }}" ${{ inputs.url }}'
    inputs:
      properties: {url: {type: string}}
      required: [url]
"""


def _plan_setup(tmp_path: Path) -> tuple[Path, Path]:
    origin = make_origin(
        tmp_path, workflows={"gated": GATED, "deploy": DEPLOY_IN_TWO}, models={"leaky": LEAKY}
    )
    alice = clone(origin, tmp_path / "alice")
    swamp(alice, "workflow", "queue", "gated", "--by", "carol", "--push")  # already on main
    swamp(alice, "method", "queue", "sh", "touch", "--input", "file=x", "--push")
    git(alice, "checkout", "--quiet", "-b", "change")
    return origin, alice


def test_plan_shows_added_removed_and_rendered_steps(tmp_path: Path) -> None:
    _, alice = _plan_setup(tmp_path)
    swamp(
        alice,
        "workflow",
        "queue",
        "deploy",
        "--input",
        "env=prod",
        "--by",
        "alice",
        "--note",
        "release 7",
    )
    swamp(alice, "method", "queue", "leaky", "login", "--input", "url=https://x.test/")
    swamp(alice, "queue", "purge", "--method", "sh.touch")
    summary = tmp_path / "summary.md"
    result = swamp(
        alice,
        "queue",
        "plan",
        "--base",
        "main",
        env={"GITHUB_STEP_SUMMARY": str(summary), "SWAMP_TEST_SECRET": "s3cr3t-value"},
    )
    text = result.stdout
    assert text.startswith("plan: 2 added, 0 changed, 1 removed against main (")
    assert text.splitlines()[0].endswith("): valid")
    assert "added workflow deploy (" in text
    assert "  inputs: env=prod\n  requested by alice: release 7\n" in text
    # Inputs are rendered; step outputs are only known during the run.
    assert '  step go/ship: sh.echo\n      run: echo "value=prod"\n' in text
    assert "      (inputs known during the run: value=${{ steps.ship.outputs.value }})\n" in text
    assert '      run: echo "value=${{ inputs.value }}"\n' in text
    # Secrets are never shown, even when set where the plan runs.
    assert "      run: 'curl -H \"Authorization: ***\" https://x.test/'\n" in text
    assert "s3cr3t" not in text
    assert "removed method sh.touch (" in text
    # The markdown went to the job summary, with the graph as Mermaid.
    markdown = summary.read_text()
    assert markdown.startswith("## swamp plan ✅\n")
    assert "```mermaid\nflowchart TD\n" in markdown
    assert "s3cr3t" not in markdown


def test_plan_says_which_items_a_definition_change_makes_stale(tmp_path: Path) -> None:
    _, alice = _plan_setup(tmp_path)
    model = alice / "models" / "sh.yaml"
    model.write_text(model.read_text().replace("marked=", "MARKED="))
    git(alice, "commit", "--quiet", "-am", "change the mark method")
    result = swamp(alice, "queue", "plan", "--base", "main", "--format", "json")
    import json

    data = json.loads(result.stdout)
    (change,) = data["definitions"]
    assert change["file"] == "models/sh.yaml"
    assert change["change"] == "modified"
    assert sorted(a.split(" ")[1] for a in change["stale"]) == ["(gated)", "(sh.touch)"]
    assert change["affects"] == []
    text = swamp(alice, "queue", "plan", "--base", "main").stdout
    assert "  modified models/sh.yaml — makes stale (re-queue after merge): " in text
    # Executing refuses them until they are queued again and reviewed.
    listed = json.loads(swamp(alice, "queue", "list", "--json").stdout)
    assert {r["state"] for r in listed} == {"stale"}


def test_plan_exits_1_on_an_invalid_item(tmp_path: Path) -> None:
    _, alice = _plan_setup(tmp_path)
    swamp(alice, "workflow", "queue", "deploy")
    (path,) = (alice / "queue").glob("deploy-*.yaml")
    path.write_text(path.read_text().replace("env: staging", "env: 42\n  colour: blue"))
    result = swamp(alice, "queue", "plan", "--base", "main", check=1)
    assert "): INVALID" in result.stdout.splitlines()[0]
    assert "  problem: inputs.env: expected string, got integer\n" in result.stdout
    assert "  problem: inputs: unknown input 'colour' (expected one of: env)\n" in result.stdout


def test_init_scaffolds_a_repository_and_this_one_uses_the_same_workflows(
    tmp_path: Path,
) -> None:
    from swamp import ci
    from swamp.commands.init import WORKFLOWS, scaffold
    from swamp.validate import load_repository

    target = tmp_path / "ops"
    out = swamp(tmp_path, "init", str(target), "--install", "swamp==0.1.0").stdout
    assert "  wrote .github/workflows/swamp-execute.yml\n" in out
    for name in ("swamp.yaml", ".gitignore", ".github/zizmor.yml", "queue/.gitkeep"):
        assert (target / name).is_file(), name
    swamp(target, "validate")
    assert swamp(target, "queue", "list").stdout.startswith("the queue is empty")
    again = swamp(tmp_path, "init", str(target), check=1)
    assert "already a swamp repository" in again.stderr
    project = Path(__file__).resolve().parent.parent
    windows = load_repository(project).config.windows
    files = scaffold(".", "main", ci.schedule_block(ci.schedule_crons(windows)))
    for name in WORKFLOWS:
        ours = (project / ".github" / "workflows" / name).read_text()
        assert ours == files[f".github/workflows/{name}"], f"{name} differs from the template"
    assert (project / ".github" / "zizmor.yml").read_text() == files[".github/zizmor.yml"]


MENDER = {
    "name": "decommission_device",
    "version": 4,
    "schemaVersion": 1,
    "inputParameters": ["device_id"],
    "tasks": [
        {
            "name": "previous",
            "type": "http",
            "http": {"uri": "http://127.0.0.1:9/whoami", "method": "GET"},
        },
        {
            "name": "delete_device_inventory",
            "type": "http",
            "http": {
                "uri": "http://127.0.0.1:9/devices/${workflow.input.device_id}",
                "method": "DELETE",
                "headers": {"Authorization": "Bearer ${env.SWAMP_TEST_SECRET}"},
                "json": {"id": "${workflow.input.device_id}", "by": "${previous.json.user}"},
            },
        },
    ],
}


def test_plan_renders_a_mender_workflow_task_with_its_inputs(tmp_path: Path) -> None:
    import json

    origin = make_origin(tmp_path)
    alice = clone(origin, tmp_path / "alice")
    (alice / "workflows").mkdir(exist_ok=True)
    (alice / "workflows" / "decommission.json").write_text(json.dumps(MENDER))
    git(alice, "add", "-A")
    git(alice, "commit", "--quiet", "-m", "bring a Mender workflow")
    git(alice, "push", "--quiet")
    git(alice, "checkout", "--quiet", "-b", "change")
    swamp(alice, "workflow", "queue", "decommission_device", "--input", "device_id=d 42")
    text = swamp(alice, "queue", "plan", "--base", "main").stdout
    assert "  step tasks/delete_device_inventory: mender/http DELETE http://127.0.0.1:9/" in text
    assert "      uri: http://127.0.0.1:9/devices/d 42\n" in text  # as it is, as Mender sends it
    assert "        id: d 42\n" in text
    assert "        by: ${previous.json.user}\n" in text  # known only during the run
    assert "        Authorization: Bearer ${env.SWAMP_TEST_SECRET}\n" in text


def test_execute_commits_an_expired_mark_even_when_nothing_ran(tmp_path: Path) -> None:
    origin, alice = _setup(tmp_path)
    swamp(alice, "method", "queue", "sh", "mark", "--input", "name=x", "--not-after", "+1h")
    (path,) = (alice / "queue").glob("*.yaml")
    text = path.read_text()
    start = text.index("notAfter: ") + len("notAfter: ")
    end = text.index("\n", start)
    path.write_text(text[:start] + "'2020-01-01T00:00:00Z'" + text[end:])
    git(alice, "add", "-A")
    git(alice, "commit", "--quiet", "-m", "an item whose time has passed")
    result = swamp(alice, "queue", "execute", "--all", "--push")
    assert "expired" in result.stdout
    assert log(origin, "main")[0] == "swamp: queue execute: 1 expired"
    assert status(alice) == ""
    assert "state: expired" in git(origin, "show", f"main:queue/{path.name}")


def test_a_secret_value_is_never_written_into_a_queue_item(tmp_path: Path) -> None:
    _, alice = _setup(tmp_path)
    env = {"SWAMP_TEST_SECRET": "hunter2-queued"}
    result = swamp(
        alice,
        "method",
        "queue",
        "sh",
        "echo",
        "--input",
        "value=x hunter2-queued",
        env=env,
        check=1,
    )
    assert result.stderr == (
        "swamp: error: input value holds a secret's value; a queued item is committed for "
        "review, so read secrets in the definition (secrets.NAME), never pass them as inputs\n"
    )
    assert list((alice / "queue").glob("*.yaml")) == []


def test_a_rebase_that_cannot_start_is_one_clear_error_not_a_crash(tmp_path: Path) -> None:
    """git refuses to rebase over staged changes: swamp says so (GitError,
    exit 1), it does not crash with GitPython's exception (exit 3)."""
    import pytest

    from swamp.gitrepo import GitError, Repo

    origin = make_origin(tmp_path)
    a = clone(origin, tmp_path / "a")
    b = clone(origin, tmp_path / "b")
    (b / "notes.txt").write_text("b\n")
    git(b, "add", "notes.txt")
    git(b, "commit", "--quiet", "-m", "b")
    git(b, "push", "--quiet")
    (a / "local.txt").write_text("a\n")
    git(a, "add", "local.txt")
    git(a, "commit", "--quiet", "-m", "a")
    (a / "staged.txt").write_text("staged\n")
    git(a, "add", "staged.txt")
    git(a, "fetch", "--quiet")
    repo = Repo(a)
    try:
        with pytest.raises(GitError, match=r"git rebase onto origin/main failed: .*"):
            repo.rebase()
    finally:
        repo.close()
    assert not (a / ".git" / "rebase-merge").exists()


def test_the_bot_s_credentials_are_read_only_by_jobs_behind_a_branch_limited_environment() -> None:
    """Repository secrets reach a workflow on any branch, and anyone who may
    push a branch can write one: the App key and the deploy key must be
    environment secrets, read only by jobs that name an environment."""
    import re

    import yaml

    from swamp import ci
    from swamp.commands.init import WORKFLOWS, scaffold

    files = scaffold(".", "main", ci.schedule_block([]))
    checked = 0
    for name in WORKFLOWS:
        doc = yaml.safe_load(files[f".github/workflows/{name}"])
        for job_name, job in doc["jobs"].items():
            used = set(re.findall(r"secrets\.([A-Z_]+)", yaml.safe_dump(job)))
            if used - {"GITHUB_TOKEN"}:
                checked += 1
                assert job.get("environment") in ("swamp-runner", "swamp-dispatch"), (
                    f"{name}: job {job_name} reads {sorted(used)} outside an environment"
                )
    assert checked == 3  # execute, dispatch and the sharded execute
