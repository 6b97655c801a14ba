"""`swamp method run`: inputs checked before anything runs, typed inputs, files, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repo_helpers import make_repo, run_ids, swamp

ACCOUNT = """\
name: acct
type: command/shell
inputs:
  properties:
    user: {type: string, pattern: '^[a-z]+$'}
    uid: {type: integer, minimum: 1000}
    groups: {type: array, items: {type: string}}
    admin: {type: boolean, default: false}
  required: [user]
methods:
  create:
    arguments:
      run: |
        printf '%s\\n' ${{ inputs.user }} >> created.log
        echo "user=${{ inputs.user }}"
        echo "uid=${{ inputs.uid | default('none') }}"
        echo "groups=${{ inputs.groups | default([]) | join(',') }}"
        echo "admin=${{ inputs.admin }}"
  broken:
    arguments:
      run: |
        echo "about to fail"
        echo "no such directory: /nowhere" >&2
        exit 4
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "r", models={"acct": ACCOUNT})


def _nothing_ran(repo: Path) -> None:
    assert not (repo / "created.log").exists()
    assert run_ids(repo) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "acct.create: missing required input 'user'"),
        (
            ["--input", "user=jo", "--input", "colour=red"],
            "acct.create: unknown input 'colour' (expected one of: admin, groups, uid, user)",
        ),
        (
            ["--input", "user=jo", "--input", "uid=1001"],
            "acct.create: uid: expected integer, got string "
            "(give a typed value as --input uid:json=VALUE)",
        ),
        (
            ["--input", "user=Jo", "--input", "uid:json=5"],
            "acct.create: uid: 5 is less than the minimum of 1000; "
            'user: "Jo" does not match the pattern ^[a-z]+$',
        ),
        (
            ["--input", 'user:json=["jo"]'],
            "acct.create: user: expected string, got array",
        ),
    ],
    ids=["missing", "extra", "wrong-type", "two-problems", "typed-wrong"],
)
def test_inputs_are_refused_before_anything_runs(repo: Path, args: list[str], message: str) -> None:
    result = swamp(repo, "method", "run", "acct", "create", *args, check=1)
    assert result.stdout == ""
    assert result.stderr == f"swamp: error: {message}\n"
    _nothing_ran(repo)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "user"], "--input 'user': expected NAME=VALUE (or NAME:json=JSON)"),
        (
            ["--input", "uid:json={bad"],
            "--input uid:json: invalid JSON: Expecting property name enclosed in double quotes",
        ),
    ],
)
def test_a_malformed_input_option_is_a_usage_error(
    repo: Path, args: list[str], message: str
) -> None:
    result = swamp(repo, "method", "run", "acct", "create", *args, check=2)
    assert result.stderr == f"swamp: error: {message}\n"
    _nothing_ran(repo)


def test_string_and_typed_inputs(repo: Path) -> None:
    result = swamp(repo, "method", "run", "acct", "create", "--input", "user=jo")
    assert result.stdout == (
        "user: jo\nuid: none\ngroups: \nadmin: false\nuser=jo\nuid=none\ngroups=\nadmin=false\n"
    )
    result = swamp(
        repo,
        "method",
        "run",
        "acct",
        "create",
        "--input",
        "user=jo",
        "--input",
        "uid:json=1001",
        "--input",
        'groups:json=["ops", "dev"]',
        "--input",
        "admin:json=true",
    )
    assert result.stdout.splitlines()[:4] == [
        "user: jo",
        "uid: 1001",
        "groups: ops,dev",
        "admin: true",
    ]
    assert (repo / "created.log").read_text() == "jo\njo\n"


def test_input_files_and_overrides(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "in.yaml").write_text("user: fromfile\nuid: 1500\ngroups: [a, b]\n")
    (tmp_path / "more.json").write_text('{"admin": true}')
    result = swamp(
        repo,
        "method",
        "run",
        "acct",
        "create",
        "--input-file",
        str(tmp_path / "in.yaml"),
        "--input-file",
        str(tmp_path / "more.json"),
        "--input",
        "user=override",
        "--json",
    )
    outputs = json.loads(result.stdout)["outputs"]
    assert {k: outputs[k] for k in ("user", "uid", "groups", "admin")} == {
        "user": "override",
        "uid": "1500",
        "groups": "a,b",
        "admin": "true",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a\n", "{file}: expected a mapping of input names to values"),
        ("user: a\nuser: b\n", "{file}:2:1: duplicate key 'user'"),
        (None, "{file}:1:1: cannot read file: No such file or directory"),
    ],
    ids=["not-a-mapping", "duplicate", "missing"],
)
def test_a_bad_input_file_is_one_line(
    repo: Path, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "inputs.yaml"
    if content is not None:
        path.write_text(content)
    result = swamp(repo, "method", "run", "acct", "create", "--input-file", str(path), check=1)
    assert result.stderr == f"swamp: error: {message.format(file=path)}\n"
    _nothing_ran(repo)


def test_json_output_is_the_run_summary_with_the_outputs(repo: Path) -> None:
    result = swamp(repo, "method", "run", "acct", "create", "--input", "user=jo", "--json")
    data = json.loads(result.stdout)
    assert data == {
        "run": run_ids(repo)[0],
        "state": "succeeded",
        "reason": None,
        "kind": "method",
        "target": "acct.create",
        "held": [],
        "failed": [],
        "outputs": {
            "user": "jo",
            "uid": "none",
            "groups": "",
            "admin": "false",
            "exitCode": 0,
            "stdout": "user=jo\nuid=none\ngroups=\nadmin=false\n",
            "stderr": "",
        },
        "error": None,
    }


def test_a_failure_exits_1_with_a_clear_message(repo: Path) -> None:
    result = swamp(repo, "method", "run", "acct", "broken", "--input", "user=jo", check=1)
    (run_id,) = run_ids(repo)
    assert result.stdout == "about to fail\n"
    assert result.stderr == (
        "swamp: error: acct.broken failed: command exited with code 4: "
        f"no such directory: /nowhere (run {run_id})\n"
    )
    data = json.loads(
        swamp(
            repo, "method", "run", "acct", "broken", "--input", "user=jo", "--json", check=1
        ).stdout
    )
    assert (data["state"], data["error"]) == (
        "failed",
        "command exited with code 4: no such directory: /nowhere",
    )


def test_unknown_model_and_method(repo: Path) -> None:
    result = swamp(repo, "method", "run", "nope", "create", check=1)
    assert result.stderr == "swamp: error: unknown model 'nope' (known: acct, sh)\n"
    result = swamp(repo, "method", "run", "acct", "nope", check=1)
    assert (
        result.stderr == "swamp: error: model 'acct' has no method 'nope' (known: broken, create)\n"
    )
    _nothing_ran(repo)
