"""Bounded evaluation and the crashes that used to need a bug report:
huge expressions, NaN, unsafe values nested in lists, failing checks, huge
input files, ambiguous run ids and a closed pipe. In-process unless the
process boundary is the point."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from repo_helpers import DEPLOY, make_repo, marks, run_ids
from typer.testing import CliRunner

from swamp import expressions
from swamp.cli import app


def cli(repo: Path, *args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["--repo", str(repo), *args])
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result.stdout, result.stderr


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("9**(9**9)", "refused: 9 ** 387420489 has more than 100000 bits"),
        ("'ab' * 10**7", "refused: repeating 2 items 10000000 times"),
        ("[0] * 10**9", "refused: repeating 1 items 1000000000 times"),
        ("'%0999999999d' % 1", "refused: a format width of a million or more"),
        ("'{:>999999999}'.format(1)", "refused: a format width of a million or more"),
        ("'{0:>{1}}'.format(1, 10**9)", "refused: a format width of a million or more"),
        ("'x' | center(10**9)", "refused: center(1000000000)"),
        ("[1] | slice(10**9) | list", "refused: slice(1000000000)"),
        (
            "(range(10**5) | list | string) ~ (range(10**5) | list | string)",
            "the result is longer than 1000000 characters",
        ),
        ("inputs.s | float", "inf is not a finite number"),
        ("[inputs.__class__]", "refused by the sandbox"),
        ("range(3)", "the result is a range, not data"),
    ],
)
def test_unbounded_expressions_are_refused_quickly(source: str, message: str) -> None:
    start = time.monotonic()
    with pytest.raises(expressions.ExpressionError) as e:
        expressions.evaluate(source, {"inputs": {"n": 2, "s": "inf"}})
    assert message in str(e.value)
    assert time.monotonic() - start < 30  # bounded, not hung: 9**(9**9) never ended


def test_bounded_expressions_still_work() -> None:
    context = {"inputs": {"n": 3}}
    assert expressions.evaluate("2 ** 64", context) == 2**64
    assert expressions.evaluate("'ab' * inputs.n", context) == "ababab"
    assert expressions.evaluate("'%05d' % inputs.n", context) == "00003"
    assert expressions.evaluate("'{:>4}'.format(inputs.n)", context) == "   3"
    assert expressions.evaluate("(1, 2)", context) == [1, 2]


NAN_STEP = """\
name: nan
jobs:
  j:
    steps:
      - name: wait
        model: echo
        method: echo
        inputs: {sleep: SLEEP}
"""


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_nan_and_infinity_are_refused_where_numbers_are_expected(
    tmp_path: Path, value: str
) -> None:
    repo = make_repo(
        tmp_path / "r",
        {"nan": NAN_STEP.replace("SLEEP", value)},
        swamp_yaml=f"version: 1\ndefaults:\n  stepTimeout: {value}\n",
    )
    out, err = cli(repo, "validate", code=1)
    err = out + err
    assert f"swamp.yaml:3:16: '{value}' is not a finite number" in err
    assert f"workflows/nan.yaml:8:25: '{value}' is not a finite number" in err


def test_nan_in_a_json_input_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"deploy": DEPLOY})
    _, err = cli(repo, "workflow", "run", "deploy", "--input", "env:json=NaN", code=2)
    assert err == "swamp: error: --input env:json: NaN is not a finite number\n"


def test_an_input_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"deploy": DEPLOY})
    _, err = cli(repo, "workflow", "run", "deploy", "--input-file", "/dev/zero", code=1)
    assert err == ("swamp: error: /dev/zero:1:1: file is longer than the limit of 2097152 bytes\n")


NESTED_UNSAFE = """\
name: unsafe
inputs:
  properties:
    env: {type: string, default: staging}
jobs:
  j:
    steps:
      - name: bad
        model: echo
        method: echo
        allowFailure: true
        inputs: {values: {x: "${{ [inputs.env.__class__] }}"}}
      - {name: after, model: sh, method: mark, inputs: {name: after}}
"""


ECHO = """\
name: echo
type: swamp/echo
inputs:
  properties:
    values: {type: object}
methods:
  echo:
    arguments: {values: "${{ inputs.values }}"}
"""


def test_an_unsafe_value_nested_in_a_list_fails_its_step_cleanly(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"unsafe": NESTED_UNSAFE}, {"echo": ECHO})
    cli(repo, "workflow", "run", "unsafe")  # allowFailure: the run succeeds
    (run,) = run_ids(repo)
    out, _ = cli(repo, "run", "show", run, "--json")
    bad = json.loads(out)["jobs"]["j"]["steps"]["bad"]
    assert bad["state"] == "failed" and bad["allowed"] and bad["ended"]
    assert "refused by the sandbox" in bad["error"]
    assert marks(repo) == ["after"]


CHECKED = """\
name: checked
inputs:
  properties:
    env: {type: string, default: staging}
jobs:
  rollout:
    checks:
      interval: 0.1s
      steps:
        - name: healthy
          model: echo
          method: echo
          inputs: {values: {x: "${{ [inputs.env.__class__] }}"}}
    steps:
      - {name: first, model: sh, method: mark, inputs: {name: first}}
"""


def test_a_check_that_cannot_be_evaluated_fails_its_job(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"checked": CHECKED}, {"echo": ECHO})
    out, _ = cli(repo, "workflow", "run", "checked", code=1)
    assert "job rollout failed: check healthy failed" in out


def test_a_run_is_not_named_by_one_character(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"deploy": DEPLOY})
    cli(repo, "workflow", "run", "deploy")
    (run,) = run_ids(repo)
    _, err = cli(repo, "run", "delete", "2", code=1)
    assert err == (
        "swamp: error: run '2': give the full run id, or at least 6 characters of it that "
        "name one run (see `swamp run list`)\n"
    )
    assert run_ids(repo) == [run]
    cli(repo, "run", "delete", run[-6:])
    assert run_ids(repo) == []


def test_a_reader_that_stops_reading_is_no_crash(tmp_path: Path) -> None:
    # A real pipe closed by its reader (`swamp queue list --done | head -1`).
    repo = make_repo(tmp_path / "r", {"deploy": DEPLOY})
    for env in ("a", "b", "c"):
        cli(repo, "workflow", "queue", "deploy", "--input", f"env={env}")
    cli(repo, "queue", "execute", "--all")
    proc = subprocess.Popen(
        [sys.executable, "-m", "swamp", "--repo", str(repo), "queue", "list", "--done"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before swamp writes
    _, err_bytes = proc.communicate(timeout=60)
    err = err_bytes.decode()
    assert proc.returncode == 0, err
    assert err == ""
