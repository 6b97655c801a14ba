"""The built-in model types and third-party ones, through the real CLI.

HTTP requests go to a real server on 127.0.0.1 started by the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from http_server import serve
from repo_helpers import make_repo, swamp, swamp_process, wait_for

SHELL = """\
name: cmd
type: command/shell
inputs:
  properties:
    text: {type: string}
methods:
  argv:
    arguments:
      argv: [printf, "%s|", "$HOME", "*", "${{ inputs.text }}", 42, true]
  script:
    arguments:
      run: echo "sum=$((1 + 2))"
  where:
    arguments:
      workingDir: sub/dir
      run: pwd
  nowhere:
    arguments:
      workingDir: missing
      run: pwd
  env:
    arguments:
      env: {GREETING: hello, COUNT: 3}
      run: printf '%s %s' "$GREETING" "$COUNT"
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
  group:
    arguments:
      timeout: 1
      run: |
        sh -c 'echo $$ > grandchild.pid; sleep 60; touch late' &
        sleep 60
"""


def test_argv_runs_without_a_shell(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"cmd": SHELL})
    result = swamp(repo, "method", "run", "cmd", "argv", "--input", "text=a b", "--json")
    assert json.loads(result.stdout)["outputs"]["stdout"] == "$HOME|*|a b|42|true|"


def test_run_goes_through_sh_and_key_value_lines_become_outputs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"cmd": SHELL})
    result = swamp(repo, "method", "run", "cmd", "script")
    assert result.stdout == "sum: 3\nsum=3\n"


def test_working_dir_is_relative_to_the_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"cmd": SHELL})
    (repo / "sub" / "dir").mkdir(parents=True)
    result = swamp(repo, "method", "run", "cmd", "where", "--json")
    assert json.loads(result.stdout)["outputs"]["stdout"] == f"{repo / 'sub' / 'dir'}\n"
    result = swamp(repo, "method", "run", "cmd", "nowhere", check=1)
    assert "cmd.nowhere failed: workingDir 'missing' not found (run " in result.stderr


def test_env_is_added_to_the_command_environment(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"cmd": SHELL})
    result = swamp(repo, "method", "run", "cmd", "env", "--json")
    assert json.loads(result.stdout)["outputs"]["stdout"] == "hello 3"


def test_stdout_stderr_and_exit_code_are_captured(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"cmd": SHELL})
    result = swamp(repo, "method", "run", "cmd", "streams", "--json", check=1)
    data = json.loads(result.stdout)
    assert data["outputs"] == {"exitCode": 3, "stdout": "out\n", "stderr": "err\n"}
    assert data["error"] == "command exited with code 3: err"
    result = swamp(repo, "method", "run", "cmd", "streams", check=1)
    assert result.stdout == "out\n"
    assert result.stderr.startswith("swamp: error: cmd.streams failed: command exited with code 3")


def test_stdin_and_a_missing_program(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"cmd": SHELL})
    result = swamp(repo, "method", "run", "cmd", "stdin", "--input", "text=fed in", "--json")
    assert json.loads(result.stdout)["outputs"]["stdout"] == "fed in"
    result = swamp(repo, "method", "run", "cmd", "not-found", check=1)
    assert (
        "cmd.not-found failed: cannot run 'no-such-command-anywhere': No such file or directory"
        in result.stderr
    )


def _gone(pid: int) -> bool:
    """True once the process has exited (a zombie waiting for a reaper counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" in status.read_text()
    except FileNotFoundError:
        return True


def test_timeout_kills_the_whole_process_group_grandchildren_included(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"cmd": SHELL})
    result = swamp(repo, "method", "run", "cmd", "group", check=1)
    assert "cmd.group failed: timed out after 1s (run " in result.stderr
    pid = int((repo / "grandchild.pid").read_text())
    wait_for(lambda: _gone(pid), what=f"grandchild {pid} to be killed")
    assert not (repo / "late").exists()


OUTPUTS = """\
name: outputs
jobs:
  build:
    steps:
      - name: json
        model: cmd
        method: print
        inputs: {text: '{"version": "1.2.3", "hosts": ["a", "b"], "stdout": "not mine"}'}
      - name: lines
        model: cmd
        method: print
        inputs: {text: "name=web-1\\ncount=3\\nnot a pair\\n"}
      - name: use
        model: cmd
        method: print
        inputs:
          text: >-
            ${{ steps.json.outputs.version }} ${{ steps.json.outputs.hosts[1] }}
            ${{ steps.lines.outputs.name }}/${{ steps.lines.outputs.count }}
  later:
    dependsOn: [build]
    steps:
      - name: again
        model: cmd
        method: print
        inputs: {text: "${{ jobs.build.steps.use.outputs.stdout }}"}
"""

PRINT = (
    SHELL
    + """\
  print:
    arguments:
      run: printf '%s' "${{ inputs.text }}"
"""
)


def test_json_and_key_value_outputs_feed_later_steps(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"outputs": OUTPUTS}, {"cmd": PRINT})
    data = json.loads(swamp(repo, "workflow", "run", "outputs", "--json").stdout)
    steps = data["outputs"]["build"]["steps"]
    assert steps["json"]["outputs"]["version"] == "1.2.3"
    assert steps["json"]["outputs"]["stdout"].startswith('{"version"')  # not replaced
    assert steps["lines"]["outputs"]["name"] == "web-1"
    assert steps["lines"]["outputs"]["count"] == "3"
    assert steps["use"]["outputs"]["stdout"] == "1.2.3 b web-1/3"
    assert data["outputs"]["later"]["steps"]["again"]["outputs"]["stdout"] == "1.2.3 b web-1/3"


# --- http/request against a real server on 127.0.0.1 --------------------------


@pytest.fixture
def server() -> Iterator[str]:
    with serve() as base:
        yield base


HTTP = """\
name: api
type: http/request
inputs:
  properties:
    base: {type: string}
    path: {type: string, default: /echo}
methods:
  get:
    arguments:
      url: "${{ inputs.base }}${{ inputs.path }}"
      headers: {X-Token: abc, Accept: application/json}
      query: {q: "a b", n: 2, flag: true}
  post-json:
    arguments:
      url: "${{ inputs.base }}/items"
      method: POST
      json: {name: widget, tags: [x, y]}
  put-raw:
    arguments:
      url: "${{ inputs.base }}/raw"
      method: PUT
      headers: {Content-Type: text/plain}
      body: "raw text\\n"
  patch-form:
    arguments:
      url: "${{ inputs.base }}/form"
      method: PATCH
      form: {a: "1 2", b: true}
  delete:
    arguments:
      url: "${{ inputs.base }}/items/1"
      method: DELETE
  head:
    arguments:
      url: "${{ inputs.base }}/echo"
      method: HEAD
  expect-404:
    arguments:
      url: "${{ inputs.base }}/status/404"
      expectedStatus: [404]
  text:
    arguments:
      url: "${{ inputs.base }}/text"
  slow:
    arguments:
      url: "${{ inputs.base }}/slow"
      readTimeout: 0.5
  unreachable:
    arguments:
      url: "${{ inputs.base }}/"
      connectTimeout: 0.5
"""

REQUESTS = """\
name: requests
inputs:
  properties:
    base: {type: string}
jobs:
  call:
    steps:
"""
REQUESTS += "".join(
    f'      - {{name: {m}, model: api, method: {m}, inputs: {{base: "${{{{ inputs.base }}}}"}}}}\n'
    for m in ["get", "post-json", "put-raw", "patch-form", "delete", "head", "expect-404", "text"]
)


def test_http_methods_headers_query_and_bodies(tmp_path: Path, server: str) -> None:
    repo = make_repo(tmp_path / "r", {"requests": REQUESTS}, {"api": HTTP})
    result = swamp(repo, "workflow", "run", "requests", "--input", f"base={server}", "--json")
    steps = json.loads(result.stdout)["outputs"]["call"]["steps"]
    out = {name: step["outputs"] for name, step in steps.items()}

    get = out["get"]["json"]
    assert (get["method"], get["path"]) == ("GET", "/echo")
    assert get["query"] == {"q": ["a b"], "n": ["2"], "flag": ["true"]}
    assert get["headers"]["x-token"] == "abc"
    assert out["get"]["status"] == 200
    assert out["get"]["headers"]["x-served-by"] == "test"
    assert out["get"]["headers"]["content-type"] == "application/json"

    post = out["post-json"]["json"]
    assert post["method"] == "POST"
    assert post["headers"]["content-type"] == "application/json"
    assert json.loads(post["body"]) == {"name": "widget", "tags": ["x", "y"]}

    put = out["put-raw"]["json"]
    assert (put["method"], put["body"], put["headers"]["content-type"]) == (
        "PUT",
        "raw text\n",
        "text/plain",
    )

    patch = out["patch-form"]["json"]
    assert patch["method"] == "PATCH"
    assert patch["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(patch["body"]) == {"a": ["1 2"], "b": ["true"]}

    assert out["delete"]["json"]["method"] == "DELETE"
    assert (out["head"]["status"], out["head"]["body"], out["head"]["json"]) == (200, "", None)
    assert out["expect-404"]["status"] == 404
    assert (out["text"]["body"], out["text"]["json"]) == ("plain words", None)


def test_an_unexpected_status_fails_with_the_status_and_body(tmp_path: Path, server: str) -> None:
    repo = make_repo(tmp_path / "r", models={"api": HTTP})
    args = ["method", "run", "api", "get", "--input", f"base={server}", "--json"]
    result = swamp(repo, *args, "--input", "path=/status/503", check=1)
    data = json.loads(result.stdout)
    assert data["outputs"]["status"] == 503
    assert data["outputs"]["json"]["path"] == "/status/503"
    assert data["error"].startswith(f"GET {server}/status/503: status 503 (expected 2xx): {{")


def test_read_and_connect_timeouts(tmp_path: Path, server: str) -> None:
    repo = make_repo(tmp_path / "r", models={"api": HTTP})
    result = swamp(repo, "method", "run", "api", "slow", "--input", f"base={server}", check=1)
    assert f"api.slow failed: GET {server}/slow: timed out (read) (run " in result.stderr

    # A listening socket that never accepts, its backlog full: connecting hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        fillers = []
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(listener.getsockname())
            fillers.append(s)
        try:
            result = swamp(
                repo, "method", "run", "api", "unreachable", "--input", f"base={base}", check=1
            )
        finally:
            for s in fillers:
                s.close()
    assert f"api.unreachable failed: GET {base}/: timed out (connect) (run " in result.stderr


def test_a_refused_connection_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: refused
        repo = make_repo(tmp_path / "r", models={"api": HTTP})
        result = swamp(repo, "method", "run", "api", "text", "--input", f"base={base}", check=1)
    assert result.stderr.startswith(
        f"swamp: error: api.text failed: GET {base}/text: connection refused (run "
    )
    assert result.stderr.count("\n") == 1


# --- swamp/echo -----------------------------------------------------------------

ECHO = """\
name: say
type: swamp/echo
inputs:
  properties:
    word: {type: string}
methods:
  echo:
    arguments:
      message: "said ${{ inputs.word }}"
      values: {word: "${{ inputs.word }}", n: 1}
  fail:
    arguments: {fail: true}
  fail-why:
    arguments: {fail: "no such thing", values: {partial: yes}}
  nap:
    arguments: {sleep: 0.1, values: {slept: true}}
  long-nap:
    arguments: {sleep: 60}
"""

NAPS = """\
name: naps
jobs:
  nap:
    steps:
      - {name: short, model: say, method: nap}
      - {name: long, model: say, method: long-nap, timeout: 1}
"""


def test_echo_returns_values_fails_and_sleeps_on_request(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"naps": NAPS}, {"say": ECHO})
    result = swamp(repo, "method", "run", "say", "echo", "--input", "word=hi")
    assert result.stdout == "word: hi\nn: 1\n"
    result = swamp(repo, "method", "run", "say", "fail", check=1)
    assert "say.fail failed: failed on request (run " in result.stderr
    data = json.loads(swamp(repo, "method", "run", "say", "fail-why", "--json", check=1).stdout)
    assert (data["error"], data["outputs"]) == ("no such thing", {"partial": True})
    data = json.loads(swamp(repo, "workflow", "run", "naps", "--json", check=1).stdout)
    steps = data["outputs"]["nap"]["steps"]
    assert steps["short"]["outputs"] == {"slept": True}
    assert data["failed"] == [{"job": "nap", "step": "long", "error": "timed out after 1s"}]


# --- third-party types through the entry-point group -----------------------------

PLUGIN = """\
from swamp.types.base import Outcome, TypeMethod

ARGS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["who"],
    "properties": {"who": {"type": "string", "description": "Whom to greet."}},
}


class GreetType:
    name = "acme/greet"
    description = "Greets someone."
    methods = {"greet": TypeMethod("greet", "Say hello.", ARGS)}

    def execute(self, method, arguments, ctx):
        if arguments["who"] == "boom":
            raise RuntimeError("kaboom")
        return Outcome(ok=True, outputs={"greeting": "hello " + arguments["who"]})


class NoMethods:
    name = "acme/empty"

    def execute(self, method, arguments, ctx):
        return Outcome(ok=True)
"""

ENTRY_POINTS = """\
[swamp.model_types]
acme/greet = acme_swamp:GreetType
acme/missing = acme_swamp_gone:Type
acme/empty = acme_swamp:NoMethods
"""


def _plugin_site(root: Path) -> dict[str, str]:
    """A real (tiny) installed distribution: a package and its dist-info."""
    site = root / "site"
    (site / "acme_swamp").mkdir(parents=True)
    (site / "acme_swamp" / "__init__.py").write_text(PLUGIN)
    info = site / "acme_swamp-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-swamp\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return {"PYTHONPATH": str(site)}


def _model(name: str, type_: str, arguments: str) -> str:
    return textwrap.dedent(
        f"""\
        name: {name}
        type: {type_}
        inputs:
          properties: {{who: {{type: string}}}}
        methods:
          greet:
            arguments: {arguments}
        """
    )


def test_a_third_party_type_is_validated_and_run(tmp_path: Path) -> None:
    env = _plugin_site(tmp_path)
    greet = _model("hello", "acme/greet", '{who: "${{ inputs.who }}"}')
    repo = make_repo(tmp_path / "r", models={"hello": greet})
    assert (
        swamp_process(repo, "validate", env=env).stdout
        == "ok: 3 files valid (2 models, 0 workflows)\n"
    )
    result = swamp_process(repo, "method", "run", "hello", "greet", "--input", "who=jo", env=env)
    assert result.stdout == "greeting: hello jo\n"
    result = swamp_process(
        repo, "method", "run", "hello", "greet", "--input", "who=boom", env=env, check=1
    )
    assert "hello.greet failed: model type acme/greet raised RuntimeError: kaboom (run " in (
        result.stderr
    )
    assert "Traceback" not in result.stderr

    # Its argument schema is enforced like a built-in's.
    (repo / "models" / "hello.yaml").write_text(
        greet.replace("arguments: {who:", "arguments: {whom:")
    )
    result = swamp_process(repo, "validate", env=env, check=1)
    assert result.stdout == (
        "models/hello.yaml:7:16: methods.greet.arguments: missing required argument 'who'\n"
        "models/hello.yaml:7:17: methods.greet.arguments: unknown argument 'whom' "
        "(expected one of: who)\n"
    )


def test_a_broken_plugin_is_one_clear_line_per_model(tmp_path: Path) -> None:
    env = _plugin_site(tmp_path)
    repo = make_repo(
        tmp_path / "r",
        models={
            "gone": _model("gone", "acme/missing", "{}"),
            "empty": _model("empty", "acme/empty", "{}"),
            "other": _model("other", "acme/other", "{}"),
        },
    )
    result = swamp_process(repo, "validate", env=env, check=1)
    assert result.stdout == (
        "models/empty.yaml:2:7: type: model type 'acme/empty' is not usable: its `methods` "
        "is not a mapping of method names to TypeMethod\n"
        "models/gone.yaml:2:7: type: model type 'acme/missing' failed to load: "
        "No module named 'acme_swamp_gone'\n"
        "models/other.yaml:2:7: type: unknown model type 'acme/other' (known: acme/empty, "
        "acme/greet, acme/missing, command/shell, http/request, swamp/echo)\n"
    )
    result = swamp_process(repo, "method", "run", "gone", "greet", env=env, check=1)
    assert result.stderr == (
        "models/gone.yaml:2:7: type: model type 'acme/missing' failed to load: "
        "No module named 'acme_swamp_gone'\n"
        "swamp: error: 1 problem(s) in the definitions; nothing was run\n"
    )
