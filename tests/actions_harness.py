"""Run the GitHub Actions workflows that `swamp init` writes, the way GitHub would.

A test makes a `Forge`: a bare origin whose pre-receive hook behaves like a
protected branch (only the App token, the deploy key and an admin's merge may
push to it; never a force-push), with helpers to open and merge pull requests.
`Forge.run_job` then executes one job of a workflow file: it evaluates the
job's `if:` and concurrency group, checks the repository out as
actions/checkout would (full or shallow history, the credential the workflow
chose), and runs every `run:` step in order with bash and the environment
GitHub sets (GITHUB_*, RUNNER_TEMP, step outputs, the job summary), honouring
each step's `if:`. Actions are emulated: checkout, setup-python (a no-op: the
test's swamp is on PATH), create-github-app-token (a fake token). The step
that pip-installs swamp is skipped for the same reason; its requirement is
returned for the test to check.

The `${{ }}` evaluator covers what the templates use: contexts, literals,
== != ! && || (with GitHub's value semantics), and format, contains,
startsWith, endsWith, toJSON, fromJSON, always, success, failure, cancelled.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ZERO = "0" * 40
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
APP_TOKEN = "ghs_harness_app_token"

PRE_RECEIVE = """#!/bin/sh
# A protected branch: only the App token, the deploy key and an admin's merge
# push to it (GITHUB_TOKEN cannot), and never by force.
status=0
while read old new ref; do
  [ "$ref" = "refs/heads/{branch}" ] || continue
  case "$HARNESS_PUSHER" in
    app|deploy-key|admin) ;;
    *) echo "protected branch hook declined: $ref may not be pushed by '$HARNESS_PUSHER'" >&2
       status=1; continue ;;
  esac
  if [ "$old" != "{zero}" ] && ! git merge-base --is-ancestor "$old" "$new"; then
    echo "protected branch hook declined: force-push to $ref" >&2
    status=1
  fi
done
exit $status
"""


# --- expressions ------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read expression at {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", -0.0)


def _number(value: Any) -> float:
    """GitHub's coercion for comparing values of different types."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and not value.strip():
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()  # GitHub compares strings ignoring case
    if type(a) is not type(b):
        return _number(a) == _number(b)
    return bool(a == b)


def as_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any], status: Callable[[str], bool]):
        self.toks = _tokens(text)
        self.i = 0
        self.ctx = context
        self.status = status

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        tok = self.toks[self.i]
        if expected is not None and tok[1] != expected:
            raise ValueError(f"expected {expected!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.or_()
        if self.i != len(self.toks):
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.cmp()
        while self.peek() == "&&":
            self.take()
            right = self.cmp()
            value = right if truthy(value) else value
        return value

    def cmp(self) -> Any:
        value = self.unary()
        if self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.unary()
            same = _equal(value, right)
            return same if op == "==" else not same
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return self.call(text, args)
        value: Any = self.ctx.get(text)
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key: Any = self.take()[1]
            else:
                key = self.or_()
                self.take("]")
            value = value.get(str(key)) if isinstance(value, dict) else None
        return value

    def call(self, name: str, args: list[Any]) -> Any:
        match name.lower():
            case "format":
                out = as_string(args[0])
                for n, arg in enumerate(args[1:]):
                    out = out.replace("{" + str(n) + "}", as_string(arg))
                return out
            case "contains":
                hay, needle = args
                if isinstance(hay, list):
                    return any(_equal(h, needle) for h in hay)
                return as_string(needle).casefold() in as_string(hay).casefold()
            case "startswith":
                return as_string(args[0]).casefold().startswith(as_string(args[1]).casefold())
            case "endswith":
                return as_string(args[0]).casefold().endswith(as_string(args[1]).casefold())
            case "tojson":
                return json.dumps(args[0], indent=2)
            case "fromjson":
                return json.loads(as_string(args[0]))
            case "always" | "success" | "failure" | "cancelled":
                return self.status(name.lower())
        raise ValueError(f"unknown function {name}")


def evaluate(
    text: str, context: Mapping[str, Any], status: Callable[[str], bool] | None = None
) -> Any:
    """One expression (without the `${{ }}`)."""
    return _Parser(text, context, status or (lambda s: s in ("always", "success"))).parse()


_INTERP = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def interpolate(value: Any, context: Mapping[str, Any]) -> str:
    """A workflow string with its `${{ }}` expressions replaced by their values."""
    text = as_string(value)
    return _INTERP.sub(lambda m: as_string(evaluate(m.group(1), context)), text)


def condition(raw: Any, context: Mapping[str, Any], status: Callable[[str], bool]) -> bool:
    """A job's or step's `if:`; without a status function it means success()."""
    if raw is None:
        return status("success")
    text = as_string(raw).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not re.search(r"\b(always|success|failure|cancelled)\s*\(", text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, context, status))


# --- the forge ----------------------------------------------------------------


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


@dataclass
class Event:
    """What triggered a workflow run: the `github` context the jobs see."""

    name: str
    ref: str
    sha: str
    actor: str = "alice"
    inputs: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    base_ref: str = ""
    head_ref: str = ""


@dataclass
class Step:
    name: str
    outcome: str  # success, failure, skipped
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobResult:
    job: str
    skipped: bool
    concurrency: str | None = None
    environment: str | None = None
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    install: str | None = None  # what the workflow pip-installs
    workspace: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.skipped and all(s.outcome != "failure" for s in self.steps)

    @property
    def stdout(self) -> str:
        return "".join(s.stdout for s in self.steps)

    @property
    def stderr(self) -> str:
        return "".join(s.stderr for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


class Forge:
    """A bare origin with a protected default branch, and the workflows' runner."""

    def __init__(self, tmp: Path, seed: Path, branch: str = "main") -> None:
        self.tmp = tmp
        self.branch = branch
        self.origin = tmp / "origin.git"
        self.repository = "acme/ops"
        self.api_url = "https://api.github.com"  # a test points it at its fake API
        self.runs = 0
        git(tmp, "init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.origin))
        git(seed, "init", "--quiet", f"--initial-branch={branch}")
        git(seed, "add", "-A")
        git(seed, "commit", "--quiet", "-m", "a swamp repository")
        git(seed, "push", "--quiet", str(self.origin), branch)
        hook = self.origin / "hooks" / "pre-receive"
        hook.write_text(PRE_RECEIVE.replace("{branch}", branch).replace("{zero}", ZERO))
        hook.chmod(0o755)

    def clone(self, name: str) -> Path:
        dest = self.tmp / name
        git(self.tmp, "clone", "--quiet", str(self.origin), str(dest))
        return dest

    def head(self, ref: str | None = None) -> str:
        return git(self.origin, "rev-parse", ref or self.branch)

    def merge(self, branch: str, who: str = "Maintainer") -> Event:
        """Merge a pull request's branch as GitHub's merge button does (a merge
        commit by web-flow, pushed past the protection), and return the push event."""
        work = self.tmp / f"merge-{self.runs}"
        self.runs += 1
        git(self.tmp, "clone", "--quiet", str(self.origin), str(work))
        env = {
            "GIT_COMMITTER_NAME": "GitHub",
            "GIT_COMMITTER_EMAIL": "noreply@github.com",
            "GIT_AUTHOR_NAME": who,
            "HARNESS_PUSHER": "admin",
        }
        git(
            work,
            "merge",
            "--no-ff",
            "--quiet",
            "-m",
            f"Merge branch '{branch}'",
            f"origin/{branch}",
            env=env,
        )
        git(work, "push", "--quiet", "origin", self.branch, env=env)
        return self.push_event()

    def push_event(self) -> Event:
        """The push event of the default branch's current head."""
        sha = self.head()
        fields = git(self.origin, "log", "-1", "--format=%ce%x00%cn%x00%B", sha).split("\0")
        payload = {
            "head_commit": {
                "id": sha,
                "message": fields[2],
                "committer": {"email": fields[0], "name": fields[1]},
            },
            "repository": {"default_branch": self.branch, "full_name": self.repository},
        }
        return Event("push", f"refs/heads/{self.branch}", sha, payload=payload)

    def event(self, name: str, *, ref: str | None = None, **kwargs: Any) -> Event:
        """A schedule, workflow_dispatch or pull_request event."""
        ref = ref or f"refs/heads/{self.branch}"
        branch = ref.removeprefix("refs/heads/")
        sha = self.head(branch) if name != "pull_request" else self.head(kwargs["head_ref"])
        payload: dict[str, Any] = {
            "repository": {"default_branch": self.branch, "full_name": self.repository}
        }
        if name == "pull_request":
            payload["pull_request"] = {
                "number": 1,
                "head": {"repo": {"full_name": self.repository}},
            }
            kwargs.setdefault("base_ref", self.branch)
        return Event(name, ref, sha, payload=payload, **kwargs)

    def run_job(
        self,
        workflow: Path,
        job_id: str,
        event: Event,
        *,
        vars: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        needs: Mapping[str, Any] | None = None,
        matrix: Mapping[str, Any] | None = None,
        bin_dir: Path | None = None,
    ) -> JobResult:
        """Run one job of a workflow file for an event, as GitHub would."""
        doc = yaml.safe_load(workflow.read_text())
        job = doc["jobs"][job_id]
        self.runs += 1
        run_id = str(1000 + self.runs)
        inputs = dict(event.inputs)
        triggers = doc.get("on", doc.get(True)) or {}
        if event.name == "workflow_dispatch":
            declared = (triggers.get("workflow_dispatch") or {}).get("inputs") or {}
            for name, spec in declared.items():
                inputs.setdefault(name, spec.get("default"))
                if spec.get("type") == "choice":
                    assert inputs[name] in spec["options"], f"{name}: not an option"
                if spec.get("type") == "boolean":
                    inputs[name] = bool(inputs[name])
        github = {
            "event_name": event.name,
            "ref": event.ref,
            "sha": event.sha,
            "actor": event.actor,
            "repository": self.repository,
            "run_id": run_id,
            "workflow": doc.get("name", workflow.name),
            "event": {**event.payload, "inputs": inputs},
            "token": "ghs_harness_github_token",
            "api_url": self.api_url,
            "base_ref": event.base_ref,
            "head_ref": event.head_ref,
        }
        context: dict[str, Any] = {
            "github": github,
            "inputs": inputs,
            "vars": dict(vars or {}),
            "secrets": dict(secrets or {}),
            "needs": dict(needs or {}),
            "matrix": dict(matrix or {}),
            "steps": {},
            "env": {},
        }
        failed = {"value": False}

        def status(name: str) -> bool:
            return {
                "always": True,
                "success": not failed["value"],
                "failure": failed["value"],
                "cancelled": False,
            }[name]

        if not condition(job.get("if"), context, status):
            return JobResult(job_id, skipped=True, concurrency=self._group(job, context))
        result = JobResult(
            job_id,
            skipped=False,
            concurrency=self._group(job, context),
            environment=job.get("environment"),
        )
        workspace = self.tmp / f"runner-{run_id}" / "workspace"
        temp = self.tmp / f"runner-{run_id}" / "temp"
        temp.mkdir(parents=True)
        workspace.mkdir()  # GitHub makes it, checked out or not
        summary = temp / "step_summary.md"
        summary.touch()
        result.workspace = workspace
        # A runner has no git identity of its own in the environment (the
        # workflow configures one); the tests' GIT_AUTHOR_*/GIT_COMMITTER_* go.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))
        }
        base_env = {
            **inherited,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTOR": event.actor,
            "GITHUB_EVENT_NAME": event.name,
            "GITHUB_REF": event.ref,
            "GITHUB_SHA": event.sha,
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_RUN_ID": run_id,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": self.api_url,
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_BASE_REF": event.base_ref,
            "GITHUB_HEAD_REF": event.head_ref,
            "RUNNER_TEMP": str(temp),
        }
        if bin_dir is not None:
            base_env["PATH"] = f"{bin_dir}{os.pathsep}{base_env['PATH']}"
        else:
            base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base_env['PATH']}"
        for n, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {n}"
            if not condition(step.get("if"), context, status):
                result.steps.append(Step(name, "skipped"))
                continue
            step_env = {k: interpolate(v, context) for k, v in (step.get("env") or {}).items()}
            with_ = {k: interpolate(v, context) for k, v in (step.get("with") or {}).items()}
            outputs: dict[str, str] = {}
            if "uses" in step:
                outcome = self._action(step["uses"], with_, event, workspace, base_env, outputs)
                result.steps.append(Step(name, outcome))
            else:
                script = step["run"]
                assert "${{" not in script, f"{name}: an expression inside run: (injection)"
                if script.lstrip().startswith("python -m pip install"):
                    result.install = script.strip().removeprefix("python -m pip install").strip()
                    result.steps.append(Step(name, "success"))
                    continue
                output_file = temp / f"output-{n}"
                output_file.touch()
                env = {**base_env, **step_env, "GITHUB_OUTPUT": str(output_file)}
                proc = subprocess.run(
                    ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                    cwd=workspace,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=300,
                )
                outcome = "success" if proc.returncode == 0 else "failure"
                stderr = proc.stderr
                try:
                    outputs = _read_outputs(output_file.read_text())
                except ValueError as e:  # GitHub fails a step whose outputs it cannot read
                    outcome, stderr = "failure", f"{stderr}{e}\n"
                result.steps.append(Step(name, outcome, proc.stdout, stderr))
            if outcome == "failure":
                failed["value"] = True
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome}
        result.summary = summary.read_text()
        result.outputs = {k: interpolate(v, context) for k, v in (job.get("outputs") or {}).items()}
        return result

    def _group(self, job: Mapping[str, Any], context: Mapping[str, Any]) -> str | None:
        spec = job.get("concurrency")
        if spec is None:
            return None
        group = spec["group"] if isinstance(spec, dict) else spec
        return interpolate(group, context).strip()

    def _action(
        self,
        uses: str,
        with_: Mapping[str, str],
        event: Event,
        workspace: Path,
        env: dict[str, str],
        outputs: dict[str, str],
    ) -> str:
        action = uses.split("@", maxsplit=1)[0]
        if action == "actions/create-github-app-token":
            assert with_.get("client-id") and with_.get("private-key")
            outputs["token"] = APP_TOKEN
            return "success"
        if action == "actions/setup-python":
            return "success"
        assert action == "actions/checkout", f"the harness does not know {uses}"
        depth = int(with_.get("fetch-depth") or 1)
        args = ["clone", "--quiet", "--no-single-branch"]
        if depth:
            args += [f"--depth={depth}"]
        git(self.tmp, *args, f"file://{self.origin}", str(workspace))
        if event.name == "pull_request":
            git(workspace, "checkout", "--quiet", event.head_ref)
        else:
            git(workspace, "checkout", "--quiet", event.ref.removeprefix("refs/heads/"))
        # The credential the push would carry: a deploy key wins (checkout then
        # uses SSH), else the token given (the App's or GITHUB_TOKEN).
        if with_.get("ssh-key"):
            env["HARNESS_PUSHER"] = "deploy-key"
        elif with_.get("token") == APP_TOKEN:
            env["HARNESS_PUSHER"] = "app"
        else:
            env["HARNESS_PUSHER"] = "github-token"
        if (with_.get("persist-credentials") or "true") == "false":
            git(workspace, "remote", "set-url", "--push", "origin", "no-credentials:")
        return "success"


def _read_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's format: name=value lines and name<<DELIMITER blocks."""
    outputs: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            if delimiter not in lines[i + 1 :]:
                raise ValueError(f"Matching delimiter not found '{delimiter}'")
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return outputs
