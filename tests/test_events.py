"""Journal events are typed values: one loader reads every kind swamp has
written (journals of earlier versions included), refuses anything else with
one line naming the file and line, and writes the same line format back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from repo_helpers import make_repo, run_ids
from typer.testing import CliRunner

from swamp import secrets
from swamp.cli import app
from swamp.engine import events
from swamp.engine.events import (
    ApiRequest,
    EventType,
    InputsIgnored,
    JobReleased,
    JobReset,
    JobStateSet,
    RunCreated,
    RunStateSet,
    ServeAccepted,
    ServeDrained,
    StepFinished,
    StepReset,
    StepStarted,
    UnknownRerun,
)
from swamp.engine.journal import JOURNAL, CorruptRun, Journal, read_events
from swamp.engine.progress import describe
from swamp.engine.state import JobStatus, RunState, RunStatus, StepStatus, load_state

FIXTURES = Path(__file__).parent / "fixtures" / "journals"
# A run written by swamp before events were typed (main at 8874c41): a hold,
# its release, a retry, an allowed failure, two skipped steps; and its snapshot.
MAIN_RUN = FIXTURES / "main-run.jsonl"
MAIN_SNAPSHOT = FIXTURES / "main-run.snapshot.json"
# Every other kind, in the same writer's format.
EVERY_KIND = FIXTURES / "every-kind.jsonl"


def _run_folder(tmp_path: Path, journal: Path) -> Path:
    folder = tmp_path / "runs" / "20261129-100000-fixture-abc123"
    folder.mkdir(parents=True)
    shutil.copy(journal, folder / JOURNAL)
    return folder


def test_a_journal_written_before_events_were_typed_loads_to_the_same_state(
    tmp_path: Path,
) -> None:
    state = load_state(_run_folder(tmp_path, MAIN_RUN))  # no snapshot: every event applied
    assert state.to_dict() == json.loads(MAIN_SNAPSHOT.read_text())


def test_every_kind_loads_as_its_typed_value(tmp_path: Path) -> None:
    loaded = [e for _, e in read_events(_run_folder(tmp_path, EVERY_KIND) / JOURNAL)]
    assert [type(e) for e in loaded] == [
        RunCreated,
        InputsIgnored,
        ServeAccepted,
        RunStateSet,
        JobStateSet,
        StepStarted,
        ApiRequest,
        StepFinished,
        JobStateSet,
        RunStateSet,
        ApiRequest,
        UnknownRerun,
        StepReset,
        JobReset,
        JobReleased,
        ServeDrained,
        ApiRequest,
    ]
    kinds = {e.TYPE for e in loaded} | {e.TYPE for _, e in read_events(MAIN_RUN)}
    assert kinds == set(EventType)
    assert loaded[0] == RunCreated(
        seq=1,
        at="2026-11-29T10:00:00.000Z",
        run="20261129-100000-sh.say-abc123",
        kind="method",
        workflow="sh.say",
        target="sh.say",
        inputs={"text": "hi", "extra": 1},
        by="token ci",
        concurrency=2,
        item="0123456789ab",
        request="sha256:1111",
        pin={"models/sh.yaml": "sha256:2222"},
        jobs=("say",),
        pid=4242,
    )
    assert loaded[7] == StepFinished(
        seq=8,
        at="2026-11-29T10:00:01.000Z",
        job="say",
        step="say",
        state=StepStatus.INTERRUPTED,
        error="interrupted by SIGINT while running (terminated)",
        attempt=1,
    )
    assert loaded[9] == RunStateSet(
        seq=10,
        at="2026-11-29T10:00:01.002Z",
        state=RunStatus.INTERRUPTED,
        reason="interrupted by SIGINT",
        in_flight=("say/say",),
    )
    assert loaded[10] == ApiRequest(
        seq=11, at="2026-11-29T10:00:02.000Z", action="resume", by="token ci", rerun_unknown=True
    )


def test_every_kind_applies_to_the_runs_state(tmp_path: Path) -> None:
    state = load_state(_run_folder(tmp_path, EVERY_KIND))
    assert (state.id, state.kind, state.target, state.item) == (
        "20261129-100000-sh.say-abc123",
        "method",
        "sh.say",
        "0123456789ab",
    )
    assert (state.request, state.pin) == ("sha256:1111", {"models/sh.yaml": "sha256:2222"})
    assert state.ignored_inputs == ["extra"]
    assert (state.state, state.reason) == (RunStatus.INTERRUPTED, "interrupted by SIGINT")
    job = state.jobs["say"]
    assert (job.state, job.reason, job.ended, job.steps) == (JobStatus.PENDING, None, None, {})
    assert (job.released_by, job.released_at, job.released_commit) == (
        "Ada Lovelace <ada@example.com>",
        "2026-11-29T10:00:02.004Z",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
    )
    assert (state.seq, state.updated) == (17, "2026-11-29T10:00:04.000Z")


@pytest.mark.parametrize("journal", [MAIN_RUN, EVERY_KIND], ids=["main-run", "every-kind"])
def test_an_event_is_written_back_as_the_line_it_was_read_from(journal: Path) -> None:
    """The same keys in the same order with the same values; a null field is
    left out (absent reads as null), and a skipped step's finish carries its
    empty outputs and tails."""
    for line in journal.read_text().splitlines():
        original = json.loads(line)
        event = events.load(original)
        written = json.loads(events.to_line(event))
        kept = {k: v for k, v in original.items() if v is not None}
        assert [k for k in written if k in kept] == list(kept), line
        assert {k: written[k] for k in kept} == kept, line
        assert set(written) - set(kept) <= {"outputs", "stdout", "stderr", "allowed"}, line
        assert events.load(written) == event


def test_the_engine_writes_typed_events_in_the_same_format(tmp_path: Path) -> None:
    journal = Journal(tmp_path / JOURNAL)
    started = journal.append(StepStarted, job="j", step="s", attempt=2, target="m.do")
    finished = journal.append(
        StepFinished, job="j", step="s", state=StepStatus.SUCCEEDED, outputs={"n": 1}, attempt=2
    )
    journal.close()
    assert isinstance(started, StepStarted) and started.seq == 1
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    assert lines[0] == (
        f'{{"seq":1,"at":"{started.at}","type":"step-started","job":"j","step":"s",'
        '"attempt":2,"target":"m.do"}'
    )
    assert lines[1] == (
        f'{{"seq":2,"at":"{finished.at}","type":"step-finished","job":"j","step":"s",'
        '"state":"succeeded","outputs":{"n":1},"attempt":2,"stdout":"","stderr":"",'
        '"allowed":false}'
    )
    assert [e for _, e in read_events(tmp_path / JOURNAL)] == [started, finished]


def test_a_secret_is_masked_in_an_event_and_a_state_stays_its_enum(tmp_path: Path) -> None:
    secrets.register("failed-hunter2")
    try:
        journal = Journal(tmp_path / JOURNAL)
        event = journal.append(
            StepFinished,
            job="j",
            step="s",
            state=StepStatus.FAILED,
            outputs={"token": "failed-hunter2"},
            error="login failed-hunter2",
        )
        gone = journal.append(UnknownRerun, steps=("j/failed-hunter2",))
        journal.close()
    finally:
        secrets.clear()
    assert event.state is StepStatus.FAILED
    assert (event.outputs, event.error) == ({"token": "***"}, "login ***")
    assert gone.steps == ("j/***",)  # a tuple still
    assert "hunter2" not in (tmp_path / JOURNAL).read_text()
    state = RunState()
    for _, e in read_events(tmp_path / JOURNAL):
        state.apply(e)
    assert state.jobs["j"].steps["s"].state is StepStatus.FAILED


@pytest.mark.parametrize(
    ("line", "what"),
    [
        (
            '{"seq":3,"at":"x","type":"step-exploded","job":"j"}',
            "an event of an unknown type 'step-exploded'",
        ),
        (
            '{"seq":3,"at":"x","type":"step-started","job":"j","step":"s","target":"t"}',
            "a step-started event without 'attempt'",
        ),
        (
            '{"seq":3,"at":"x","type":"step-started","job":"j","step":"s","attempt":"2",'
            '"target":"t"}',
            "a step-started event with a wrong value (attempt: expected a whole number, got '2')",
        ),
        (
            '{"seq":3,"at":"x","type":"step-finished","job":"j","step":"s",'
            '"state":"succeeded","outputs":"oops"}',
            "a step-finished event with a wrong value (outputs: expected an object, got 'oops')",
        ),
        (
            '{"seq":3,"at":"x","type":"run-created","run":"r","jobs":"ab"}',
            "a run-created event with a wrong value (jobs: expected a list of strings, got 'ab')",
        ),
        (
            '{"seq":3,"at":"x","type":"job-state","job":"j","state":"held","prompt":7}',
            "a job-state event with a wrong value (prompt: expected a string, got 7)",
        ),
        (
            '{"seq":3,"at":"x","type":"run-state","state":"exploded"}',
            "a run-state event with a wrong value ('exploded' is not a valid RunStatus)",
        ),
        (
            '{"seq":3,"type":"job-reset","job":"j"}',
            "a job-reset event without 'at' (when it was written)",
        ),
    ],
)
def test_a_mis_shaped_event_is_refused_naming_its_line(
    tmp_path: Path, line: str, what: str
) -> None:
    head = MAIN_RUN.read_text().splitlines(keepends=True)[:2]
    folder = tmp_path / "runs" / "20261129-100000-fixture-abc123"
    folder.mkdir(parents=True)
    (folder / JOURNAL).write_text("".join([*head, line + "\n"]))
    with pytest.raises(CorruptRun) as caught:
        load_state(folder)
    assert str(caught.value) == (
        f"{folder / JOURNAL}:3: {what}; the run cannot be read or continued (look at it, "
        f"or remove it with `swamp run delete {folder.name}`)"
    )


STEPS = """\
name: steps
jobs:
  j:
    steps:
      - {name: a, model: sh, method: mark, inputs: {name: a}}
"""


@pytest.mark.parametrize(
    ("line", "what"),
    [
        # Skipped silently before: a run's history with a hole in it.
        ('{"seq":4,"at":"x","type":"step-exploded","job":"j"}', "an event of an unknown type"),
        # Taken as the step's outputs before, and read by every later expression.
        (
            '{"seq":4,"at":"x","type":"step-finished","job":"j","step":"a",'
            '"state":"succeeded","outputs":["not","outputs"]}',
            "a step-finished event with a wrong value (outputs: expected an object",
        ),
    ],
    ids=["unknown-kind", "outputs-not-an-object"],
)
def test_the_cli_refuses_a_run_with_such_an_event_and_lists_the_others(
    tmp_path: Path, line: str, what: str
) -> None:
    repo = make_repo(tmp_path / "r", {"steps": STEPS})
    runner = CliRunner()
    for _ in range(2):
        assert runner.invoke(app, ["--repo", str(repo), "workflow", "run", "steps"]).exit_code == 0
    broken, other = run_ids(repo)
    journal = repo / "runs" / broken / JOURNAL
    lines = journal.read_text().splitlines(keepends=True)
    lines[3] = line + "\n"
    journal.write_text("".join(lines))
    (repo / "runs" / broken / "snapshot.json").unlink()
    shown = runner.invoke(app, ["--repo", str(repo), "run", "show", broken])
    assert shown.exit_code == 1
    assert shown.stderr.startswith(f"swamp: error: {journal}:4: {what}")
    assert shown.stderr.count("\n") == 1
    listed = runner.invoke(app, ["--repo", str(repo), "run", "list", "--json"])
    assert listed.exit_code == 0
    states = {r["run"]: r["state"] for r in json.loads(listed.stdout)}
    assert states == {broken: "corrupt", other: "succeeded"}


def test_progress_reads_typed_events_as_swamp_printed_them() -> None:
    """The lines main printed while it wrote main-run.jsonl (up to the retry),
    now from the typed events."""
    lines = [describe(e) for _, e in read_events(MAIN_RUN)][:20]
    assert [line for line in lines if line] == [
        "run running",
        "job build: running",
        "step build/hello: started sh.say",
        "step build/hello: ok",
        "step build/cleanup: skipped: hello succeeded (needs failed)",
        "step build/flaky: started sh.fail",
        "step build/flaky: started sh.fail (attempt 2)",
        "step build/flaky: FAILED: command exited with code 3: failing (allowed to fail)",
        "step build/never: skipped: flaky failed (needs failed)",
        "job build: ok",
        "job ship: ON HOLD: Ship it?",
        "run held (on hold before ship)",
        "job ship: released by alice",
        "run running",
        "job ship: running",
        "step ship/publish: started sh.say",
        "step ship/publish: ok",
        "job ship: ok",
        "run succeeded",
    ]
    quiet = [describe(e) for _, e in read_events(EVERY_KIND) if describe(e) is None]
    assert len(quiet) == 10  # created, ignored inputs, serve and API audits, resets
