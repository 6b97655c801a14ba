"""Expressions: values are data. No input runs a command or escapes its quotes,
in argv form or in a `run:` script, through `method run` or a workflow step."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from repo_helpers import make_repo, swamp

from swamp.shell_script import display_script

# Each model method passes the input `value` to a command in one place a
# script author might put it, and prints it back.
ECHO_MODEL = """\
name: echo
type: command/shell
inputs:
  properties:
    value: {type: string}
  required: [value]
methods:
  argv:
    arguments:
      argv: [printf, "%s", "${{ inputs.value }}"]
  bare:
    arguments:
      run: printf '%s' ${{ inputs.value }}
  double:
    arguments:
      run: printf '%s' "${{ inputs.value }}"
  single:
    arguments:
      run: printf '%s' '${{ inputs.value }}'
  words:
    arguments:
      run: printf '%s' "-${{ inputs.value }}-"'=${{ inputs.value }}='+${{ inputs.value }}+
  heredoc:
    arguments:
      run: |
        cat <<EOF
        ${{ inputs.value }}
        EOF
  comment:
    arguments:
      run: |
        # the value is ${{ inputs.value }}
        V=${{ inputs.value }}
        printf '%s' "$V"
"""


def _expected(form: str, value: str) -> str:
    if form == "words":
        return f"-{value}-={value}=+{value}+"
    if form == "heredoc":
        return value + "\n"
    return value


FORMS = ["argv", "bare", "double", "single", "words", "heredoc", "comment"]

# Every step of this workflow hands the workflow's input to one method.
STEP = (
    "      - {{name: s, model: echo, method: {form},"
    ' inputs: {{value: "${{{{ inputs.value }}}}"}}}}\n'
)
ALL_FORMS = "name: all-forms\ninputs:\n  properties:\n    value: {type: string}\njobs:\n" + "".join(
    f"  {form}:\n    steps:\n" + STEP.format(form=form) for form in FORMS
)

HOSTILE = [
    "$(touch pwned)",
    "; rm -rf x",
    "`id`",
    "`touch pwned`",
    "it's",
    'say "hi"',
    "'; touch pwned; '",
    '"; touch pwned; "',
    "line one\nline two\n$(touch pwned)\n",
    "{{ 7*7 }}",
    "${{ ''.__class__.__mro__ }}",
    "${HOME} $PATH \\ \\n %s * ? [a] ~ & | > pwned < /dev/null",
    "EOF\ntouch pwned\nEOF",
    "\ntouch pwned #",
]
# All of them at once, for `method run`.
EVERYTHING = "".join(HOSTILE)


def _repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "r", {"all-forms": ALL_FORMS}, {"echo": ECHO_MODEL})
    (repo / "x").mkdir()  # what `rm -rf x` would remove
    return repo


def _untouched(repo: Path) -> None:
    assert sorted(p.name for p in repo.iterdir()) == [
        ".swamp",  # this machine's run locks
        "models",
        "queue",
        "runs",
        "swamp.yaml",
        "workflows",
        "x",
    ]


@pytest.mark.parametrize("form", FORMS)
def test_method_run_passes_hostile_input_as_data(tmp_path: Path, form: str) -> None:
    repo = _repo(tmp_path)
    result = swamp(repo, "method", "run", "echo", form, "--input", f"value={EVERYTHING}", "--json")
    outputs = json.loads(result.stdout)["outputs"]
    assert outputs["stdout"] == _expected(form, EVERYTHING)
    assert outputs["exitCode"] == 0
    _untouched(repo)


@pytest.mark.parametrize("value", HOSTILE)
def test_workflow_steps_pass_hostile_input_as_data(tmp_path: Path, value: str) -> None:
    repo = _repo(tmp_path)
    result = swamp(repo, "workflow", "run", "all-forms", "--input", f"value={value}", "--json")
    data = json.loads(result.stdout)
    assert data["state"] == "succeeded"
    for form in FORMS:
        stdout = data["outputs"][form]["steps"]["s"]["outputs"]["stdout"]
        assert stdout == _expected(form, value), form
    _untouched(repo)


TYPED = """\
name: typed
type: swamp/echo
inputs:
  properties:
    hosts: {type: array, items: {type: string}}
    n: {type: integer}
    flag: {type: boolean}
    nick: {type: string}
methods:
  echo:
    arguments:
      values:
        hosts: "${{ inputs.hosts }}"
        n: "${{ inputs.n }}"
        flag: "${{ inputs.flag }}"
        sum: "${{ inputs.n + 1 }}"
        spaced: " ${{ inputs.n }}"
        text: "hosts=${{ inputs.hosts }} n=${{ inputs.n }} flag=${{ inputs.flag }}"
        first: "${{ inputs.hosts[0] | upper }}"
  nick:
    arguments:
      values: {nick: "${{ inputs.nick }}"}
  sandbox:
    arguments:
      values: {mro: "${{ inputs.nick.__class__.__mro__ }}"}
"""


def test_a_field_that_is_one_expression_keeps_its_type(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"typed": TYPED})
    result = swamp(
        repo,
        "method",
        "run",
        "typed",
        "echo",
        "--input",
        'hosts:json=["web-1", "web-2"]',
        "--input",
        "n:json=3",
        "--input",
        "flag:json=false",
        "--json",
    )
    assert json.loads(result.stdout)["outputs"] == {
        "hosts": ["web-1", "web-2"],
        "n": 3,
        "flag": False,
        "sum": 4,
        "spaced": " 3",
        "text": 'hosts=["web-1", "web-2"] n=3 flag=false',
        "first": "WEB-1",
    }


def test_an_undefined_name_is_an_error_naming_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"typed": TYPED})
    result = swamp(repo, "method", "run", "typed", "nick", check=1)
    assert result.stdout == ""
    run_id = result.stderr.rsplit("(run ", 1)[1].rstrip(")\n")
    assert result.stderr == (
        "swamp: error: typed.nick failed: ${{ inputs.nick }}: inputs.nick is not defined "
        f"(run {run_id})\n"
    )


def test_the_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"typed": TYPED})
    result = swamp(repo, "method", "run", "typed", "sandbox", "--input", "nick=x", check=1)
    assert (
        "typed.sandbox failed: ${{ inputs.nick.__class__.__mro__ }}: refused by the sandbox: "
        "access to attribute '__class__' of 'str' object is unsafe." in result.stderr
    )
    assert result.stderr.count("\n") == 1


ARITHMETIC = """\
name: calc
type: command/shell
inputs:
  properties:
    n: {type: string}
methods:
  next:
    arguments:
      run: echo $(( ${{ inputs.n }} + 1 ))
  quoted-heredoc:
    arguments:
      run: |
        cat <<'EOF'
        ${{ inputs.n }}
        EOF
"""


def test_arithmetic_takes_integers_only(tmp_path: Path) -> None:
    calc = ARITHMETIC[: ARITHMETIC.index("  quoted-heredoc:")]
    repo = make_repo(tmp_path / "r", models={"calc": calc})
    result = swamp(repo, "method", "run", "calc", "next", "--input", "n=41")
    assert result.stdout == "42\n"
    result = swamp(repo, "method", "run", "calc", "next", "--input", "n=a[$(touch pwned)]", check=1)
    assert (
        "calc.next failed: ${{ inputs.n }}: in an arithmetic expansion $(( … )) a value must be "
        "an integer, got 'a[$(touch pwned)]'" in result.stderr
    )
    assert not (repo / "pwned").exists()


def test_validate_refuses_an_expression_in_a_quoted_here_document(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"calc": ARITHMETIC})
    result = swamp(repo, "validate", check=1)
    assert result.stdout == (
        "models/calc.yaml:14:9: methods.quoted-heredoc.arguments.run: ${{ inputs.n }}: "
        "a here-document with a quoted delimiter (<<'EOF') expands nothing; use an unquoted "
        "delimiter (<<EOF)\n"
    )


def test_running_a_method_of_a_model_with_problems_names_them(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"calc": ARITHMETIC})
    result = swamp(repo, "method", "run", "calc", "next", "--input", "n=1", check=1)
    assert result.stderr == (
        "models/calc.yaml:14:9: methods.quoted-heredoc.arguments.run: ${{ inputs.n }}: "
        "a here-document with a quoted delimiter (<<'EOF') expands nothing; use an unquoted "
        "delimiter (<<EOF)\n"
        "swamp: error: 1 problem(s) in the definitions; nothing was run\n"
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_the_script_shown_to_a_reviewer_means_what_runs(tmp_path: Path, value: str) -> None:
    """Plans show a script with each value quoted in place (not the variables
    that run): run by sh, that text too prints the value exactly."""
    scripts = {
        "printf '%s' ${{ inputs.value }}": value,
        "printf '%s' \"[${{ inputs.value }}]\"'[${{ inputs.value }}]'": f"[{value}][{value}]",
        "V=${{ inputs.value }}; printf '%s' \"$V\"": value,
    }
    for script, expected in scripts.items():
        shown = display_script(script, {"inputs": {"value": value}})
        assert "SWAMP_EXPR" not in shown
        result = subprocess.run(
            ["sh", "-c", shown], capture_output=True, text=True, cwd=tmp_path, check=True
        )
        assert result.stdout == expected
    assert list(tmp_path.iterdir()) == []
