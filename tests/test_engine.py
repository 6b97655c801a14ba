"""The workflow engine through the real CLI: real processes, real files."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

from repo_helpers import events, make_repo, marks, run_ids, show, start_swamp, swamp, wait_for

SEQUENCE = """\
name: sequence
inputs:
  properties:
    who: {type: string, default: world}
jobs:
  first:
    steps:
      - name: one
        model: sh
        method: mark
        inputs: {name: one}
      - name: slow
        model: sh
        method: sleep
        inputs: {name: slow, seconds: "${{ inputs.seconds | default(0) }}"}
      - name: three
        model: sh
        method: echo
        inputs: {value: "${{ steps.one.outputs.marked }}-${{ inputs.who }}"}
  second:
    dependsOn: [first]
    steps:
      - name: four
        model: sh
        method: echo
        inputs: {value: "${{ jobs.first.steps.three.outputs.value }}"}
"""


def test_workflow_run_passes_outputs_between_steps_and_jobs(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r", {"sequence": SEQUENCE.replace('"${{ inputs.seconds | default(0) }}"', "0")}
    )
    result = swamp(repo, "workflow", "run", "sequence", "--json")
    data = json.loads(result.stdout)
    assert data["state"] == "succeeded"
    assert data["outputs"]["second"]["steps"]["four"]["outputs"]["value"] == "one-world"
    assert marks(repo) == ["one", "slow"]


def _sequence_repo(tmp_path: Path) -> Path:
    wf = SEQUENCE.replace('"${{ inputs.seconds | default(0) }}"', "30").replace(
        "      - name: slow\n", "      - name: slow\n        timeout: 60\n"
    )
    return make_repo(tmp_path / "r", {"sequence": wf})


def _kill_when_started(repo: Path, step: str) -> str:
    proc = start_swamp(repo, "workflow", "run", "sequence")
    try:
        wait_for(lambda: bool(run_ids(repo)), what="the run folder")
        run_id = run_ids(repo)[0]
        wait_for(
            lambda: any(
                e["type"] == "step-started" and e["step"] == step for e in events(repo, run_id)
            ),
            what=f"step {step} to start",
        )
        wait_for(lambda: step in marks(repo), what=f"step {step} to act")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and the step's process group
        proc.communicate()
    return run_id


def test_sigkill_mid_step_then_resume_runs_no_succeeded_step_twice(tmp_path: Path) -> None:
    repo = _sequence_repo(tmp_path)
    run_id = _kill_when_started(repo, "slow")
    assert marks(repo) == ["one", "slow"]
    listed = json.loads(swamp(repo, "run", "list", "--json").stdout)
    assert [r["state"] for r in listed] == ["interrupted"]
    # Make the in-flight step quick for the resume: it runs again (at least once).
    wf = repo / "workflows" / "sequence.yaml"
    wf.write_text(wf.read_text().replace("seconds: 30", "seconds: 0"))
    # The step in flight may have acted: it runs again only when asked to.
    data = json.loads(swamp(repo, "run", "resume", run_id, "--json", "--rerun-unknown").stdout)
    assert data["state"] == "succeeded"
    assert marks(repo) == ["one", "slow", "slow"]  # `one` did not run twice
    # The output of the step that succeeded before the kill survived.
    assert data["outputs"]["second"]["steps"]["four"]["outputs"]["value"] == "one-world"


def test_torn_journal_line_is_tolerated_and_repaired(tmp_path: Path) -> None:
    repo = _sequence_repo(tmp_path)
    run_id = _kill_when_started(repo, "slow")
    journal = repo / "runs" / run_id / "journal.jsonl"
    # A crash in the middle of a write leaves half an event at the end.
    with journal.open("a") as f:
        f.write('{"seq": 99, "type": "step-fin')
    (repo / "runs" / run_id / "snapshot.json").unlink(missing_ok=True)
    wf = repo / "workflows" / "sequence.yaml"
    wf.write_text(wf.read_text().replace("seconds: 30", "seconds: 0"))
    assert show(repo, run_id)["jobs"]["first"]["steps"]["one"]["state"] == "succeeded"
    data = json.loads(swamp(repo, "run", "resume", run_id, "--json", "--rerun-unknown").stdout)
    assert data["state"] == "succeeded"
    assert marks(repo) == ["one", "slow", "slow"]
    lines = journal.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # every line whole again


HOLD = """\
name: ship
jobs:
  build:
    steps:
      - {name: compile, model: sh, method: mark, inputs: {name: build}}
  ship-binary:
    dependsOn: [build]
    hold: "ship ${{ jobs.build.steps.compile.outputs.marked }}?"
    steps:
      - {name: upload, model: sh, method: mark, inputs: {name: shipped}}
  announce:
    dependsOn: [build]
    hold: announce it?
    steps:
      - {name: post, model: sh, method: mark, inputs: {name: announced}}
"""


def test_hold_stops_the_run_and_release_continues_one_job_at_a_time(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"ship": HOLD})
    result = swamp(repo, "workflow", "run", "ship")
    run_id = run_ids(repo)[0]
    assert "job ship-binary is on hold: ship build?" in result.stdout
    assert f"release it with: swamp workflow release ship-binary --run {run_id}" in result.stdout
    assert marks(repo) == ["build"]
    released = swamp(repo, "workflow", "release", "ship-binary", "--by", "alice")
    assert marks(repo) == ["build", "shipped"]
    assert "job announce is on hold: announce it?" in released.stdout
    data = show(repo, run_id)
    assert data["state"] == "held"
    assert data["jobs"]["ship-binary"]["released_by"] == "alice"
    assert data["jobs"]["announce"]["state"] == "held"
    swamp(repo, "workflow", "release", "announce", "--run", run_id, "--by", "bob")
    data = show(repo, run_id)
    assert data["state"] == "succeeded"
    assert data["jobs"]["announce"]["released_by"] == "bob"
    assert marks(repo) == ["build", "shipped", "announced"]


def test_release_with_several_held_runs_needs_a_run_id(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"ship": HOLD})
    swamp(repo, "workflow", "run", "ship")
    swamp(repo, "workflow", "run", "ship")
    result = swamp(repo, "workflow", "release", "ship-binary", check=1)
    assert "several runs hold job 'ship-binary'; say which:" in result.stderr
    for run_id in run_ids(repo):
        assert f"swamp workflow release ship-binary --run {run_id}" in result.stderr
    assert marks(repo) == ["build", "build"]


LONG = """\
name: long
jobs:
  work:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
      - {name: b, model: sh, method: sleep, inputs: {name: b, seconds: 1}}
      - {name: c, model: sh, method: mark, inputs: {name: c}}
"""


GATE = """\
name: gate
type: command/shell
methods:
  wait:
    description: mark, then wait until the file OPEN exists (at most a minute)
    arguments:
      run: |
        echo b >> marks.log
        i=0
        while [ ! -e OPEN ]; do i=$((i+1)); [ $i -lt 1200 ] || exit 1; sleep 0.05; done
"""


def test_pause_from_a_second_process_takes_effect_after_the_step_in_flight(
    tmp_path: Path,
) -> None:
    wf = LONG.replace(
        "      - {name: b, model: sh, method: sleep, inputs: {name: b, seconds: 1}}",
        "      - {name: b, model: gate, method: wait}",
    )
    repo = make_repo(tmp_path / "r", {"long": wf}, {"gate": GATE})
    proc = start_swamp(repo, "workflow", "run", "long")
    wait_for(lambda: "b" in marks(repo), what="step b")
    run_id = run_ids(repo)[0]
    swamp(repo, "run", "pause", run_id)
    refused = swamp(repo, "run", "delete", run_id, check=1)
    assert refused.stderr == (
        f"swamp: error: run {run_id} is executing; stop it first (`swamp run stop`)\n"
    )
    (repo / "OPEN").touch()  # b ends; c must not start
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"run {run_id} paused" in out
    assert marks(repo) == ["a", "b"]  # b finished, c did not start
    assert show(repo, run_id)["jobs"]["work"]["steps"]["b"]["state"] == "succeeded"
    swamp(repo, "run", "resume", run_id)
    assert marks(repo) == ["a", "b", "c"]


def test_stop_from_a_second_process_terminates_the_step_in_flight(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"long": LONG.replace("seconds: 1", "seconds: 60")})
    proc = start_swamp(repo, "workflow", "run", "long")
    wait_for(lambda: "b" in marks(repo), what="step b")
    run_id = run_ids(repo)[0]
    result = swamp(repo, "run", "stop", run_id)
    assert f"run {run_id}: stopped" in result.stdout
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    data = show(repo, run_id)
    assert data["state"] == "stopped"
    assert data["jobs"]["work"]["steps"]["b"]["state"] == "stopped"
    assert marks(repo) == ["a", "b"]


def test_tolerated_failures_stop_exactly_after_one_too_many(tmp_path: Path) -> None:
    wf = """\
name: fan
jobs:
  roll:
    forEach:
      items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
      concurrency: 1
      toleratedFailures: 1
    steps:
      - name: host
        model: sh
        method: fail
        inputs: {name: "h${{ item }}", code: "${{ 1 if item in [2, 4, 6] else 0 }}"}
"""
    repo = make_repo(tmp_path / "r", {"fan": wf})
    result = swamp(repo, "workflow", "run", "fan", check=1)
    # Item 2 fails (tolerated), item 4 is the second failure: nothing after it starts.
    assert marks(repo) == ["h0", "h1", "h2", "h3", "h4"]
    assert "job roll failed: 2 of 10 items failed (tolerated: 1)" in result.stdout


def test_prechecks_block_the_job(tmp_path: Path) -> None:
    wf = """\
name: guarded
jobs:
  deploy:
    prechecks:
      - {name: ready, model: sh, method: exists, inputs: {file: READY}}
      - {name: quiet, model: sh, method: absent, inputs: {file: FREEZE}}
    steps:
      - {name: go, model: sh, method: mark, inputs: {name: deployed}}
"""
    repo = make_repo(tmp_path / "r", {"guarded": wf})
    result = swamp(repo, "workflow", "run", "guarded", check=1)
    assert "job deploy failed: precheck ready failed" in result.stdout
    assert marks(repo) == []
    (repo / "READY").touch()
    swamp(repo, "run", "resume", run_ids(repo)[0])
    assert marks(repo) == ["deployed"]


def test_a_failing_continuous_check_stops_the_job(tmp_path: Path) -> None:
    wf = """\
name: watched
jobs:
  rollout:
    checks:
      interval: 0.2s
      steps:
        - {name: healthy, model: sh, method: absent, inputs: {file: ALARM}}
    steps:
      - {name: first, model: sh, method: mark, inputs: {name: first}}
      - {name: second, model: alarm, method: raise}
      - {name: third, model: sh, method: mark, inputs: {name: third}}
"""
    # `second` raises the alarm itself, so the check fails while it runs (when
    # `first` raised it, the check could fail before `second` had started).
    alarm = "name: alarm\ntype: command/shell\nmethods:\n  raise:\n    arguments:\n"
    alarm += "      run: touch ALARM; sleep 60\n"
    repo = make_repo(tmp_path / "r", {"watched": wf}, {"alarm": alarm})
    result = swamp(repo, "workflow", "run", "watched", check=1)
    assert "job rollout failed: check healthy failed" in result.stdout
    data = show(repo, run_ids(repo)[0])
    assert data["jobs"]["rollout"]["steps"]["second"]["state"] == "failed"
    assert "third" not in marks(repo)


def test_step_timeout_kills_grandchildren(tmp_path: Path) -> None:
    models = {
        "spawner": """\
name: spawner
type: command/shell
methods:
  spawn:
    arguments:
      run: |
        sleep 300 &
        echo $! > grandchild.pid
        wait
"""
    }
    wf = """\
name: slow
jobs:
  j:
    steps:
      - {name: s, model: spawner, method: spawn, timeout: 1s}
"""
    repo = make_repo(tmp_path / "r", {"slow": wf}, models)
    result = swamp(repo, "workflow", "run", "slow", check=1)
    assert "timed out" in result.stdout
    pid = int((repo / "grandchild.pid").read_text())

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie is dead too: it only waits to be reaped by init.
        stat = Path(f"/proc/{pid}/stat")
        return stat.exists() and stat.read_text().split()[2] == "Z"

    wait_for(gone, what="the grandchild to die")


def test_retry_with_backoff_and_allow_failure(tmp_path: Path) -> None:
    wf = """\
name: flaky
jobs:
  j:
    steps:
      - name: flaky
        model: sh
        method: fail
        inputs: {name: try, code: 1}
        retry: {attempts: 3, delay: 0.05s, backoff: 2}
        allowFailure: true
      - {name: after, model: sh, method: mark, inputs: {name: after}}
"""
    repo = make_repo(tmp_path / "r", {"flaky": wf})
    swamp(repo, "workflow", "run", "flaky")
    assert marks(repo) == ["try", "try", "try", "after"]
    data = show(repo, run_ids(repo)[0])
    step = data["jobs"]["j"]["steps"]["flaky"]
    assert (step["state"], step["attempts"], step["allowed"]) == ("failed", 3, True)


def test_failure_conditions_and_skips(tmp_path: Path) -> None:
    wf = """\
name: cond
jobs:
  main:
    steps:
      - {name: boom, model: sh, method: fail, inputs: {name: boom, code: 2}}
  cleanup:
    dependsOn: [{name: main, condition: failed}]
    steps:
      - {name: clean, model: sh, method: mark, inputs: {name: cleaned}}
  always:
    dependsOn: [{name: main, condition: always}]
    steps:
      - {name: report, model: sh, method: mark, inputs: {name: reported}}
  celebrate:
    dependsOn: [{name: cleanup, condition: failed}]
    steps:
      - {name: party, model: sh, method: mark, inputs: {name: party}}
"""
    repo = make_repo(tmp_path / "r", {"cond": wf})
    result = swamp(repo, "workflow", "run", "cond", check=1)
    assert sorted(marks(repo)) == ["boom", "cleaned", "reported"]
    data = show(repo, run_ids(repo)[0])
    assert data["jobs"]["celebrate"]["state"] == "skipped"
    assert data["jobs"]["celebrate"]["reason"] == "cleanup succeeded (needs failed)"
    assert "main/boom: command exited with code 2: failing on purpose" in result.stdout
    assert f"swamp run resume {run_ids(repo)[0]}" in result.stdout


def test_steps_with_their_own_dependencies_run_side_by_side_and_by_condition(
    tmp_path: Path,
) -> None:
    """Within a job, steps that name their dependsOn run as soon as those
    finished (two at once here); `failed` runs after a failure, an unmet
    condition on a finished step skips, and one that waits on a failure is
    left for a resume, which runs it once the failure is mended."""
    wf = """\
name: steps
jobs:
  j:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
      - {name: p1, model: meet, method: meet, inputs: {me: p1, other: p2}, dependsOn: [a]}
      - {name: p2, model: meet, method: meet, inputs: {me: p2, other: p1}, dependsOn: [a]}
      - name: boom
        model: sh
        method: fail
        inputs: {name: boom, code: 2}
        dependsOn: [p1, p2]
      - name: rescue
        model: sh
        method: mark
        inputs: {name: rescue}
        dependsOn: [{name: boom, condition: failed}]
      - name: party
        model: sh
        method: mark
        inputs: {name: party}
        dependsOn: [{name: boom, condition: succeeded}]
      - name: skipped
        model: sh
        method: mark
        inputs: {name: skipped}
        dependsOn: [{name: rescue, condition: failed}]
"""
    # Each of p1 and p2 succeeds only if the other started while it ran.
    meet = """\
name: meet
type: command/shell
inputs:
  properties: {me: {type: string}, other: {type: string}}
methods:
  meet:
    arguments:
      run: |
        echo ${{ inputs.me }} >> marks.log
        touch ${{ inputs.me }}.started
        for _ in $(seq 200); do [ -e ${{ inputs.other }}.started ] && exit 0; sleep 0.05; done
        exit 1
"""
    repo = make_repo(tmp_path / "r", {"steps": wf}, models={"meet": meet})
    swamp(repo, "workflow", "run", "steps", check=1)
    run_id = run_ids(repo)[0]
    steps = show(repo, run_id)["jobs"]["j"]["steps"]
    assert (steps["p1"]["state"], steps["p2"]["state"]) == ("succeeded", "succeeded")
    assert (steps["boom"]["state"], steps["rescue"]["state"]) == ("failed", "succeeded")
    assert (steps["skipped"]["state"], steps["skipped"]["error"]) == (
        "skipped",
        "rescue succeeded (needs failed)",
    )
    assert "party" not in steps  # waits for boom to succeed: a resume may mend it
    assert sorted(marks(repo)) == ["a", "boom", "p1", "p2", "rescue"]

    wf_file = repo / "workflows" / "steps.yaml"
    wf_file.write_text(wf_file.read_text().replace("code: 2", "code: 0"))
    swamp(repo, "run", "resume", run_id)
    steps = show(repo, run_id)["jobs"]["j"]["steps"]
    assert (steps["boom"]["state"], steps["party"]["state"]) == ("succeeded", "succeeded")
    assert marks(repo)[5:] == ["boom", "party"]


def test_retry_from_a_step_reruns_it_and_what_follows(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"long": LONG.replace("seconds: 1", "seconds: 0")})
    swamp(repo, "workflow", "run", "long")
    run_id = run_ids(repo)[0]
    swamp(repo, "run", "retry", run_id, "--step", "b")
    assert marks(repo) == ["a", "b", "c", "b", "c"]


def test_independent_jobs_run_in_parallel(tmp_path: Path) -> None:
    jobs = "\n".join(
        f"  j{i}:\n    steps:\n      - {{name: s, model: sh, method: sleep, "
        f"inputs: {{name: j{i}, seconds: 0.5}}}}"
        for i in range(4)
    )
    repo = make_repo(tmp_path / "r", {"par": f"name: par\njobs:\n{jobs}\n"})
    swamp(repo, "workflow", "run", "par", "--concurrency", "4")
    data = show(repo, run_ids(repo)[0])
    starts = sorted(j["steps"]["s"]["started"] for j in data["jobs"].values())
    ends = sorted(j["steps"]["s"]["ended"] for j in data["jobs"].values())
    assert starts[-1] < ends[0]  # every job started before any finished


def test_nested_workflow_outputs_and_resume(tmp_path: Path) -> None:
    inner = """\
name: inner
inputs:
  properties: {who: {type: string}}
  required: [who]
jobs:
  greet:
    steps:
      - {name: hello, model: sh, method: echo, inputs: {value: "hi ${{ inputs.who }}"}}
"""
    outer = """\
name: outer
jobs:
  call:
    steps:
      - {name: nested, workflow: inner, inputs: {who: bob}}
      - name: use
        model: sh
        method: echo
        inputs: {value: "${{ steps.nested.outputs.jobs.greet.steps.hello.outputs.value }}"}
"""
    repo = make_repo(tmp_path / "r", {"inner": inner, "outer": outer})
    data = json.loads(swamp(repo, "workflow", "run", "outer", "--json").stdout)
    assert data["outputs"]["call"]["steps"]["use"]["outputs"]["value"] == "hi bob"


def test_a_nested_workflow_that_fails_or_holds_fails_its_step_and_says_why(
    tmp_path: Path,
) -> None:
    """The calling step fails, naming the nested run's state, its reason and
    its first failed step; a hold inside a nested workflow is not waited on
    (holds work only in the workflow a run starts with). A resume after the
    cause is mended runs the nested workflow's failed step again."""
    inner = """\
name: inner
jobs:
  work:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
      - {name: b, model: sh, method: fail, inputs: {name: b, code: 3}}
"""
    held = """\
name: held
jobs:
  gate:
    hold: go?
    steps:
      - {name: c, model: sh, method: mark, inputs: {name: c}}
"""
    outer = """\
name: outer
jobs:
  call:
    steps:
      - {name: nested, workflow: WORKFLOW}
      - {name: after, model: sh, method: mark, inputs: {name: after}}
"""
    repo = make_repo(
        tmp_path / "r",
        {
            "inner": inner,
            "held": held,
            "outer": outer.replace("WORKFLOW", "inner"),
            "outer-held": outer.replace("outer", "outer-held").replace("WORKFLOW", "held"),
        },
    )
    data = json.loads(swamp(repo, "workflow", "run", "outer", "--json", check=1).stdout)
    step = show(repo, data["run"])["jobs"]["call"]["steps"]["nested"]
    assert step["state"] == "failed"
    assert step["error"].startswith("nested workflow inner failed: job work failed")
    assert step["error"].endswith("; work/b: command exited with code 3: failing on purpose")
    assert marks(repo) == ["a", "b"]  # `after` never ran

    mended = (repo / "workflows" / "inner.yaml").read_text().replace("code: 3", "code: 0")
    (repo / "workflows" / "inner.yaml").write_text(mended)
    swamp(repo, "run", "resume", data["run"])
    assert show(repo, data["run"])["state"] == "succeeded"
    assert marks(repo) == ["a", "b", "b", "after"]  # `a` succeeded: not run again

    data = json.loads(swamp(repo, "workflow", "run", "outer-held", "--json", check=1).stdout)
    step = show(repo, data["run"])["jobs"]["call"]["steps"]["nested"]
    assert step["error"] == (
        "nested workflow held is on hold; holds work only in the workflow a run starts with"
    )
    assert marks(repo) == ["a", "b", "b", "after"]  # the held job's step never ran


def test_method_run_goes_through_the_engine_and_is_listed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    result = swamp(repo, "method", "run", "sh", "echo", "--input", "value=$(id)")
    assert "value: $(id)" in result.stdout
    listed = json.loads(swamp(repo, "run", "list", "--json").stdout)
    assert [(r["kind"], r["target"], r["state"]) for r in listed] == [
        ("method", "sh.echo", "succeeded")
    ]
    swamp(repo, "run", "delete", listed[0]["run"])
    assert run_ids(repo) == []


def test_graph_text_and_mermaid(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"ship": HOLD})
    text = swamp(repo, "workflow", "graph", "ship").stdout
    assert text.splitlines()[:4] == [
        "workflow ship",
        "  job build",
        "    step compile: sh.mark",
        "  job ship-binary after build [on hold]",
    ]
    mermaid = swamp(repo, "workflow", "graph", "ship", "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart TD\n")
    assert "job__build --> hold__ship_binary" in mermaid


def test_secrets_are_masked_in_journal_and_show(tmp_path: Path) -> None:
    models = {
        "leak": """\
name: leak
type: command/shell
methods:
  print:
    arguments:
      run: echo "token=${{ secrets.SWAMP_TEST_SECRET }}"
"""
    }
    wf = "name: leaky\njobs:\n  j:\n    steps:\n      - {name: s, model: leak, method: print}\n"
    repo = make_repo(tmp_path / "r", {"leaky": wf}, models)
    env = {"SWAMP_TEST_SECRET": "hunter2-very-secret"}
    result = swamp(repo, "workflow", "run", "leaky", env=env)
    run_id = run_ids(repo)[0]
    journal = (repo / "runs" / run_id / "journal.jsonl").read_text()
    shown = swamp(repo, "run", "show", run_id, env=env).stdout
    for text in (result.stdout, result.stderr, journal, shown):
        assert "hunter2-very-secret" not in text
    assert "token=***" in shown


# -- crashes at random moments, and at every point of a journal write ----------

LOUD = """\
name: loud
type: command/shell
inputs:
  properties:
    name: {type: string}
methods:
  mark:
    description: mark, and print 20 kB (long journal writes, more to tear)
    arguments:
      run: |
        echo ${{ inputs.name }} >> marks.log
        head -c 20000 /dev/zero | tr '\\0' x
        echo
"""


def _succeeded_in_journal(repo: Path, run_id: str) -> set[str]:
    """The steps a resume must not run again, read from the journal by the
    test itself: a torn last line is skipped, a reset undoes a success."""
    done: set[str] = set()
    for line in (repo / "runs" / run_id / "journal.jsonl").read_bytes().split(b"\n"):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event["type"] == "step-finished" and event["state"] == "succeeded":
            done.add(event["step"])
        elif event["type"] == "step-reset":
            done.discard(event["step"])
    return done


def test_sigkill_at_random_moments_never_reruns_a_succeeded_step(tmp_path: Path) -> None:
    import random
    import time
    from collections import Counter

    n = 80
    steps = "\n".join(
        f"      - {{name: s{i:02}, model: loud, method: mark, inputs: {{name: s{i:02}}}}}"
        for i in range(n)
    )
    repo = make_repo(
        tmp_path / "r", {"many": f"name: many\njobs:\n  j:\n    steps:\n{steps}\n"}, {"loud": LOUD}
    )
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kills: list[tuple[set[str], Counter[str]]] = []
    torn = 0
    proc: subprocess.Popen[str] | None = start_swamp(repo, "workflow", "run", "many")
    while proc is not None and len(kills) < 8:
        # Kill once a random number more steps have succeeded, a random
        # fraction of a step later: inside a step, or inside a journal write.
        running = proc
        goal = len(marks(repo)) + rng.randint(1, 4)
        deadline = time.monotonic() + 60
        while len(marks(repo)) < goal and running.poll() is None:
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.01))
        if running.poll() is not None:
            break
        os.killpg(running.pid, signal.SIGKILL)
        running.communicate()
        (run_id,) = run_ids(repo)
        journal = (repo / "runs" / run_id / "journal.jsonl").read_bytes()
        torn += not journal.endswith(b"\n")
        kills.append((_succeeded_in_journal(repo, run_id), Counter(marks(repo))))
        proc = None
        with contextlib.suppress(ValueError):
            last = json.loads(journal.splitlines()[-1])
            if (last["type"], last.get("state")) == ("run-state", "succeeded"):
                continue  # it had just ended when it died
        proc = start_swamp(repo, "run", "resume", run_id, "--rerun-unknown")
    if proc is not None:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (seed, out, err)
    (run_id,) = run_ids(repo)
    assert show(repo, run_id)["state"] == "succeeded"
    final = Counter(marks(repo))
    assert sorted(final) == [f"s{i:02}" for i in range(n)], seed
    for succeeded, counted in kills:
        for step in succeeded:  # recorded as succeeded: never ran again
            assert final[step] == counted[step], (seed, step)
    # Each kill interrupts at most the one step in flight, which runs again.
    assert sum(final.values()) - n <= len(kills), seed
    assert len(kills) >= 3, f"the run ended before enough kills (seed {seed})"
    print(f"seed {seed}: {len(kills)} kills, {torn} left a torn last line")


def test_a_crash_at_any_point_of_a_journal_write_is_resumed_correctly(tmp_path: Path) -> None:
    import shutil

    wf = """\
name: three
jobs:
  j:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
      - {name: b, model: sh, method: mark, inputs: {name: b}}
  k:
    dependsOn: [j]
    steps:
      - {name: c, model: sh, method: mark, inputs: {name: c}}
"""
    repo = make_repo(tmp_path / "r", {"three": wf})
    swamp(repo, "workflow", "run", "three")
    (run_id,) = run_ids(repo)
    journal = (repo / "runs" / run_id / "journal.jsonl").read_bytes()
    lines = journal.split(b"\n")[:-1]
    # Appends only: whatever a crash leaves is a prefix of the whole journal,
    # ending inside some event. Cut inside each one in turn.
    for i, line in enumerate(lines):
        cut = sum(len(x) + 1 for x in lines[:i]) + len(line) // 2
        copy = tmp_path / f"cut{i}"
        shutil.copytree(repo, copy)
        (copy / "marks.log").unlink()
        (copy / "runs" / run_id / "snapshot.json").unlink()
        (copy / "runs" / run_id / "journal.jsonl").write_bytes(journal[:cut])
        if i == 0:  # cut inside the very first event: nothing had started
            result = swamp(copy, "run", "resume", run_id, check=1)
            assert result.stderr == (
                f"swamp: error: run {run_id} was cut off before it recorded what it runs; "
                f"nothing of it ran (delete it with `swamp run delete {run_id}`)\n"
            )
            continue
        before = _succeeded_in_journal(copy, run_id)
        data = json.loads(swamp(copy, "run", "resume", run_id, "--json", "--rerun-unknown").stdout)
        assert data["state"] == "succeeded", i
        assert marks(copy) == [s for s in "abc" if s not in before], i
        whole = (copy / "runs" / run_id / "journal.jsonl").read_text().splitlines()
        assert all(json.loads(x) for x in whole), i  # the torn line was cut off


# -- nesting -------------------------------------------------------------------


def test_nested_workflows_refuse_cycles_and_nesting_too_deep(tmp_path: Path) -> None:
    chain = {
        f"w{i}": f"name: w{i}\njobs:\n  j:\n    steps:\n      - {{name: s, workflow: w{i + 1}}}\n"
        for i in range(9)
    }
    chain["w9"] = (
        "name: w9\njobs:\n  j:\n    steps:\n"
        "      - {name: s, model: sh, method: mark, inputs: {name: deepest}}\n"
    )
    cycle = {
        "ca": "name: ca\njobs:\n  j:\n    steps:\n      - {name: s, workflow: cb}\n",
        "cb": "name: cb\njobs:\n  j:\n    steps:\n      - {name: s, workflow: ca}\n",
    }
    repo = make_repo(tmp_path / "r", {**chain, **cycle})
    deep = (
        "workflows/w0.yaml:5:29: jobs.j.steps[0].workflow: workflows nested 9 deep "
        "(at most 8): w0 -> w1 -> w2 -> w3 -> w4 -> w5 -> w6 -> w7 -> w8 -> w9"
    )
    loop = (
        "workflows/cb.yaml:5:29: jobs.j.steps[0].workflow: workflows call each other in a "
        "cycle: ca -> cb -> ca"
    )
    assert swamp(repo, "validate", check=1).stdout.splitlines() == [loop, deep]
    refused = swamp(repo, "workflow", "run", "w0", check=1)
    assert refused.stderr.splitlines() == [
        deep,
        "swamp: error: 1 problem(s) in the definitions; nothing was run",
    ]
    assert swamp(repo, "workflow", "run", "ca", check=1).stderr.splitlines()[0] == loop
    assert marks(repo) == []
    swamp(repo, "workflow", "run", "w1")  # eight deep: the limit
    assert marks(repo) == ["deepest"]


# -- listing and progress ------------------------------------------------------


def test_run_list_filters_by_state_workflow_and_time(tmp_path: Path) -> None:
    wfs = {
        "good": "name: good\njobs:\n  j:\n    steps:\n"
        "      - {name: s, model: sh, method: mark, inputs: {name: good}}\n",
        "bad": "name: bad\njobs:\n  j:\n    steps:\n"
        "      - {name: s, model: sh, method: fail, inputs: {name: bad, code: 3}}\n",
    }
    repo = make_repo(tmp_path / "r", wfs)
    swamp(repo, "workflow", "run", "good")
    swamp(repo, "workflow", "run", "bad", check=1)
    swamp(repo, "method", "run", "sh", "echo", "--input", "value=v")

    def listed(*args: str) -> list[tuple[str, str]]:
        rows = json.loads(swamp(repo, "run", "list", *args, "--json").stdout)
        return [(r["target"], r["state"]) for r in rows]

    assert sorted(listed()) == [("bad", "failed"), ("good", "succeeded"), ("sh.echo", "succeeded")]
    assert listed("--state", "failed") == [("bad", "failed")]
    assert listed("--workflow", "good") == [("good", "succeeded")]
    assert listed("--workflow", "sh.echo", "--state", "succeeded") == [("sh.echo", "succeeded")]
    assert len(listed("--since", "1h")) == 3
    assert listed("--since", "2999-01-01T00:00Z") == []
    assert swamp(repo, "run", "list", "--state", "held").stdout == "no runs match\n"
    bad = swamp(repo, "run", "list", "--since", "yesterday", check=2)
    assert bad.stderr == (
        "swamp: error: --since 'yesterday': expected a time (2026-11-23T10:00Z) or 2h, 1d\n"
    )


def test_without_a_terminal_progress_is_one_plain_line_per_transition(tmp_path: Path) -> None:
    import re

    wf = """\
name: gated
jobs:
  build:
    steps:
      - {name: compile, model: sh, method: mark, inputs: {name: built}}
      - {name: test, model: sh, method: fail, inputs: {name: tested, code: 1}, allowFailure: true}
  ship:
    dependsOn: [build]
    hold: ship it?
    steps:
      - {name: upload, model: sh, method: mark, inputs: {name: shipped}}
"""
    repo = make_repo(tmp_path / "r", {"gated": wf})
    result = swamp(repo, "workflow", "run", "gated")  # stderr is a pipe, not a terminal
    lines = result.stderr.splitlines()
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in lines), lines
    assert [line[11:] for line in lines] == [
        "run running",
        "job build: running",
        "step build/compile: started sh.mark",
        "step build/compile: ok",
        "step build/test: started sh.fail",
        "step build/test: FAILED: command exited with code 1: failing on purpose (allowed to fail)",
        "job build: ok",
        "job ship: ON HOLD: ship it?",
        "run held (on hold before ship)",
    ]
    assert "\x1b" not in result.stderr  # no terminal control sequences
