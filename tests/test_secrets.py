"""Secrets: readable only when swamp.yaml lists them, and never printed or written."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_server import serve
from repo_helpers import make_repo, run_ids, swamp

# Quotes and a backslash: JSON and YAML spell it differently from the shell.
SECRET = 'hunter2-sekrit-"q"-\\x'
TELL = "sekrit"  # any spelling of the secret that leaked would contain this
ENV = {"SWAMP_TEST_SECRET": SECRET}

VAULT = """\
name: vault
type: command/shell
inputs:
  properties:
    value: {type: string}
methods:
  leak:
    description: print the secret every way a command might
    arguments:
      run: |
        printf 'token=%s\\n' ${{ secrets.SWAMP_TEST_SECRET }}
        printf 'from the environment: %s\\n' "$SWAMP_TEST_SECRET"
        printf 'on stderr: %s\\n' "${{ secrets.SWAMP_TEST_SECRET }}" >&2
        printf '%s' '${{ secrets.SWAMP_TEST_SECRET }}' > leak.txt
  json:
    arguments:
      argv:
        - PYTHON
        - -c
        - "import json, sys; print(json.dumps({'token': sys.argv[1]}))"
        - "${{ secrets.SWAMP_TEST_SECRET }}"
  env:
    arguments:
      env: {TOKEN: "${{ secrets.SWAMP_TEST_SECRET }}"}
      argv: [printenv, TOKEN]
  fail:
    arguments:
      run: |
        printf 'cannot log in with %s\\n' "$SWAMP_TEST_SECRET" >&2
        exit 1
  echo-input:
    arguments:
      argv: [printf, "%s", "${{ inputs.value }}"]
"""

SAY = """\
name: say
type: swamp/echo
methods:
  echo:
    arguments:
      message: "the token is ${{ secrets.SWAMP_TEST_SECRET }}"
      values:
        token: "${{ secrets.SWAMP_TEST_SECRET }}"
        nested: ["${{ secrets.SWAMP_TEST_SECRET }}"]
  fail:
    arguments:
      fail: "refused token ${{ secrets.SWAMP_TEST_SECRET }}"
"""

API = """\
name: api
type: http/request
inputs:
  properties:
    base: {type: string}
methods:
  call:
    arguments:
      url: "${{ inputs.base }}/login"
      method: POST
      headers: {Authorization: "Bearer ${{ secrets.SWAMP_TEST_SECRET }}"}
      json: {password: "${{ secrets.SWAMP_TEST_SECRET }}"}
  bad-method:
    arguments:
      url: "${{ inputs.base }}/login"
      method: "${{ secrets.SWAMP_TEST_SECRET }}"
"""

WORKFLOW = """\
name: uses-secrets
inputs:
  properties:
    base: {type: string}
jobs:
  all:
    steps:
      - {name: leak, model: vault, method: leak}
      - {name: json, model: vault, method: json}
      - {name: env, model: vault, method: env}
      - {name: say, model: say, method: echo}
      - {name: api, model: api, method: call, inputs: {base: "${{ inputs.base }}"}}
      - name: again
        model: vault
        method: echo-input
        inputs: {value: "${{ steps.json.outputs.token }}|${{ secrets.SWAMP_TEST_SECRET }}"}
      - {name: fail, model: vault, method: fail, allowFailure: true}
"""


@pytest.fixture
def server() -> Iterator[str]:
    with serve() as base:
        yield base


def _repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "r",
        {"uses-secrets": WORKFLOW},
        {"vault": VAULT.replace("PYTHON", sys.executable), "say": SAY, "api": API},
    )


def _files_with_the_secret(repo: Path) -> list[str]:
    return sorted(
        str(p.relative_to(repo))
        for p in repo.rglob("*")
        if p.is_file() and TELL.encode() in p.read_bytes() and p.name != "leak.txt"
    )


class _Console:
    """Every command's stdout and stderr, to search them all at the end."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.seen: list[str] = []

    def __call__(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        result = swamp(self.repo, *args, env=ENV, check=check)
        self.seen += [result.stdout, result.stderr]
        return result

    def leaked(self) -> list[str]:
        return [text for text in self.seen if TELL in text]


def test_a_secret_never_appears_in_output_journals_or_done_files(
    tmp_path: Path, server: str
) -> None:
    repo = _repo(tmp_path)
    run = _Console(repo)
    result = run("workflow", "run", "uses-secrets", "--input", f"base={server}", "--json")
    steps = json.loads(result.stdout)["outputs"]["all"]["steps"]
    outputs = {name: step["outputs"] for name, step in steps.items()}

    # The values were really used (the command wrote it where swamp does not look)...
    assert (repo / "leak.txt").read_text() == SECRET
    # ...and everything swamp reports has *** in their place.
    assert outputs["leak"]["token"] == "***"
    assert outputs["leak"]["stdout"] == "token=***\nfrom the environment: ***\n"
    assert outputs["leak"]["stderr"] == "on stderr: ***\n"
    assert outputs["json"]["token"] == "***"
    assert outputs["env"]["stdout"] == "***\n"
    assert outputs["say"] == {"token": "***", "nested": ["***"]}
    assert outputs["api"]["json"]["headers"]["authorization"] == "Bearer ***"
    assert json.loads(outputs["api"]["json"]["body"]) == {"password": "***"}
    assert outputs["again"]["stdout"] == "***|***"

    run_id = run_ids(repo)[0]
    run("run", "show", run_id)
    shown = json.loads(run("run", "show", run_id, "--json").stdout)
    assert shown["jobs"]["all"]["steps"]["fail"]["stderr"] == "cannot log in with ***"
    run("run", "list", "--json")
    assert _files_with_the_secret(repo) == []
    assert run.leaked() == []


def test_error_messages_are_masked(tmp_path: Path, server: str) -> None:
    repo = _repo(tmp_path)
    run = _Console(repo)
    result = run("method", "run", "vault", "fail", check=1)
    assert "vault.fail failed: command exited with code 1: cannot log in with *** (run " in (
        result.stderr
    )
    result = run("method", "run", "say", "fail", "--json", check=1)
    assert json.loads(result.stdout)["error"] == "refused token ***"
    result = run("method", "run", "api", "bad-method", "--input", f"base={server}", check=1)
    assert "api.bad-method failed: api.bad-method: invalid arguments: method: expected one of" in (
        result.stderr
    )
    assert 'got "***"' in result.stderr
    # A secret given as an input is masked too, from the first journal line on.
    result = run("method", "run", "vault", "echo-input", "--input", f"value={SECRET}", "--json")
    assert json.loads(result.stdout)["outputs"]["stdout"] == "***"
    assert _files_with_the_secret(repo) == []
    assert run.leaked() == []


def test_queued_work_keeps_the_secret_out_of_queue_and_done_files(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    run = _Console(repo)
    run("method", "queue", "vault", "leak")
    run("method", "queue", "say", "echo")
    run("method", "queue", "vault", "fail")
    result = run("queue", "execute", "--all", check=1)
    assert "ran 3 of 3 selected: 2 succeeded, 1 failed" in result.stdout
    done = sorted((repo / "done").iterdir())
    assert len(done) == 2
    assert any("token: '***'" in p.read_text() for p in done)
    run("queue", "list", "--json", "--done")
    assert _files_with_the_secret(repo) == []
    assert run.leaked() == []


def test_only_secrets_listed_in_swamp_yaml_are_readable(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "models" / "other.yaml").write_text(
        "name: other\ntype: swamp/echo\nmethods:\n"
        "  echo:\n    arguments: {values: {home: '${{ secrets.HOME }}'}}\n"
    )
    result = swamp(repo, "validate", env=ENV, check=1)
    assert result.stdout == (
        "models/other.yaml:5:33: methods.echo.arguments.values.home: ${{ secrets.HOME }}: "
        "secrets.HOME is not allowed (list HOME under secrets in swamp.yaml)\n"
    )
    result = swamp(repo, "method", "run", "other", "echo", env=ENV, check=1)
    assert result.stderr.startswith("models/other.yaml:5:33: ")
    # Listed but not set: an error naming it, not an empty string.
    (repo / "models" / "other.yaml").unlink()
    result = swamp(repo, "method", "run", "say", "echo", check=1)
    assert (
        "say.echo failed: ${{ secrets.SWAMP_TEST_SECRET }}: secrets.SWAMP_TEST_SECRET is not "
        in (result.stderr)
    )
