"""command/shell starts a step's process through posix_spawn where swamp
runs in the repository (the quick path), through Popen elsewhere: both give
the same outcomes, and the quick path keeps Popen's guarantees (its own
session, ignored signals reset, no inherited descriptor, the step's PATH).

Each test runs swamp in-process twice: once from the repository's root,
once from another folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from repo_helpers import invoke, make_repo, wait_for

from swamp.types import shell

MODEL = """\
name: cmd
type: command/shell
inputs:
  properties:
    text: {type: string}
methods:
  argv:
    arguments:
      argv: [printf, "%s|", "$HOME", "${{ inputs.text }}", 42]
  streams:
    arguments:
      run: |
        echo out
        echo err >&2
        exit 3
  stdin:
    arguments:
      stdin: "${{ inputs.text }}"
      argv: [cat]
  not-found:
    arguments:
      argv: [no-such-command-anywhere]
  not-executable:
    arguments:
      argv: [./data.txt]
  relative:
    arguments:
      argv: [./tool.sh]
  own-path:
    arguments:
      env: {PATH: "TOOLS"}
      argv: [mytool]
  own-path-missing:
    arguments:
      env: {PATH: "TOOLS"}
      argv: [true]
  where:
    arguments:
      workingDir: sub
      run: pwd
  process:
    arguments:
      run: |
        grep -E '^Sig(Ign|Blk)' /proc/self/status
        ps -o pid=,pgid=,sid= -p $$
        ls /proc/self/fd
  group:
    arguments:
      timeout: 1
      run: |
        sh -c 'echo $$ > grandchild.pid; sleep 60; touch late' &
        sleep 60
"""

WHERE = ["repository", "elsewhere"]


@pytest.fixture(params=WHERE)
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "r", models={"cmd": MODEL}).resolve()
    text = (root / "models" / "cmd.yaml").read_text()
    (root / "models" / "cmd.yaml").write_text(text.replace("TOOLS", str(root / "tools")))
    (root / "tools").mkdir()
    (root / "tools" / "mytool").write_text("#!/bin/sh\necho mine\n")
    (root / "tools" / "mytool").chmod(0o755)
    (root / "tool.sh").write_text("#!/bin/sh\necho relative\n")
    (root / "tool.sh").chmod(0o755)
    (root / "data.txt").write_text("not a program\n")
    (root / "sub").mkdir()
    (root / "elsewhere").mkdir()
    request.node.cwd = root if request.param == "repository" else root / "elsewhere"
    return root


def _run(repo: Path, cwd: Path, method: str, *args: str, code: int = 0) -> dict[str, object]:
    result = invoke("--repo", str(repo), "method", "run", "cmd", method, "--json", *args, cwd=cwd)
    assert result.returncode == code, (result.stdout, result.stderr)
    data: dict[str, object] = json.loads(result.stdout)
    return data


def _cwd(request: pytest.FixtureRequest) -> Path:
    cwd: Path = request.node.cwd
    return cwd


def test_the_quick_path_is_taken_only_in_swamp_s_own_folder(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"]}
    child = shell._spawn(["true"], Path.cwd(), env, None)
    assert isinstance(child, shell._Spawned)
    assert child.wait() == 0
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    child.stderr.close()
    assert shell._spawn(["true"], tmp_path, env, None) is None


def test_outputs_exit_codes_and_stdin(repo: Path, request: pytest.FixtureRequest) -> None:
    cwd = _cwd(request)
    data = _run(repo, cwd, "argv", "--input", "text=a b")
    assert data["outputs"] == {"exitCode": 0, "stdout": "$HOME|a b|42|", "stderr": ""}
    data = _run(repo, cwd, "streams", code=1)
    assert data["outputs"] == {"exitCode": 3, "stdout": "out\n", "stderr": "err\n"}
    assert data["error"] == "command exited with code 3: err"
    data = _run(repo, cwd, "stdin", "--input", "text=fed in")
    assert data["outputs"] == {"exitCode": 0, "stdout": "fed in", "stderr": ""}
    big = "x" * 300_000  # more than a pipe holds: written while it is read
    data = _run(repo, cwd, "stdin", "--input", f"text={big}")
    assert data["outputs"] == {"exitCode": 0, "stdout": big, "stderr": ""}


def test_programs_are_found_as_popen_finds_them(repo: Path, request: pytest.FixtureRequest) -> None:
    cwd = _cwd(request)
    data = _run(repo, cwd, "not-found", code=1)
    assert data["error"] == "cannot run 'no-such-command-anywhere': No such file or directory"
    # A path is taken as given, relative to the step's folder.
    data = _run(repo, cwd, "relative")
    assert data["outputs"] == {"exitCode": 0, "stdout": "relative\n", "stderr": ""}
    data = _run(repo, cwd, "not-executable", code=1)
    assert data["error"] == "cannot run './data.txt': Permission denied"
    # A bare name is looked up on the PATH the step sets, not swamp's.
    assert _run(repo, cwd, "own-path")["outputs"] == {
        "exitCode": 0,
        "stdout": "mine\n",
        "stderr": "",
    }
    # `true` is on swamp's PATH, not on the step's.
    data = _run(repo, cwd, "own-path-missing", code=1)
    assert data["error"] == "cannot run 'true': No such file or directory"
    data = _run(repo, cwd, "where")
    assert data["outputs"] == {"exitCode": 0, "stdout": f"{repo / 'sub'}\n", "stderr": ""}


def test_a_step_s_process_starts_clean(
    repo: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # A descriptor swamp holds as inheritable (one it inherited, say): Popen's
    # close_fds keeps it from steps, and so must the quick path.
    read, write = os.pipe()
    os.set_inheritable(write, True)
    try:
        data = _run(repo, _cwd(request), "process")
    finally:
        os.close(read)
        os.close(write)
    outputs = data["outputs"]
    assert isinstance(outputs, dict)
    lines = str(outputs["stdout"]).splitlines()
    blocked = int(lines[0].split()[1], 16)
    ignored = int(lines[1].split()[1], 16)
    assert blocked == 0
    # SIGPIPE and SIGXFSZ, which Python ignores, are back to their defaults.
    # (Signals 32 and 33, glibc's own, are left ignored by its posix_spawn;
    # every glibc program sets them up again.)
    assert ignored & ~(1 << 31 | 1 << 32) == 0
    pid, pgid, sid = (int(x) for x in lines[2].split())
    assert pid == pgid == sid  # a session and process group of its own
    assert sorted(int(fd) for fd in lines[3:]) == [0, 1, 2, 3]  # 3: ls's own listing


def test_a_timeout_kills_the_whole_group(repo: Path, request: pytest.FixtureRequest) -> None:
    data = _run(repo, _cwd(request), "group", code=1)
    assert data["error"] == "timed out after 1s"
    pid = int((repo / "grandchild.pid").read_text())

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()

    wait_for(gone, what=f"grandchild {pid} to be killed")
    assert not (repo / "late").exists()
