"""`swamp validate`: every problem, one exact line each, at the offending node."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from repo_helpers import make_repo, swamp

ROOT = Path(__file__).resolve().parent.parent

SWAMP_YAML = """\
version: 1
env: [DEPLOY_ENV]
secrets: [API_TOKEN]
defaults:
  concurrency: 0
windows:
  nightly:
    cron: "61 2 * * *"
    duration: 1h
    timezone: Mars/Olympus
  weekly:
    cron: "0 2 * * 1"
    duration: 1h
    timezon: UTC
"""

MODELS = {
    "users": """\
        name: users
        type: command/shell
        inputs:
          properties:
            user: {type: string}
            count: {type: integer}
          required: [user]
        methods:
          create:
            arguments:
              argv: [echo, "${{ inputs.user }} ${{ env.DEPLOY_ENV }} ${{ secrets.API_TOKEN }}"]
        """,
    "bad-args": """\
        name: bad-args
        type: command/shell
        methods:
          not-a-list:
            arguments:
              argv: echo hi
              timeout: -1
          unknown-argument:
            arguments:
              shell: bash
              run: echo hi
          neither:
            arguments:
              workingDir: /tmp
          both:
            arguments: {argv: [echo], run: echo}
        """,
    "api": """\
        name: api
        type: http/request
        methods:
          get:
            arguments:
              url: http://127.0.0.1:1/
              method: FETCH
              expectedStatus: [200, 999]
        """,
    "exprs": """\
        name: exprs
        type: command/shell
        inputs:
          properties:
            user: {type: string}
        methods:
          syntax:
            arguments:
              run: |
                echo start
                echo ${{ inputs.user | }}
          namespaces:
            arguments:
              argv: [echo, "${{ steps.x.outputs.y }}", "${{ foo.bar }}", "${{ inputs.usr }}"]
          not-allowed:
            arguments:
              run: echo "${{ env.HOME }}" '${{ secrets.AWS_KEY }}'
        """,
    "typo-inputs": """\
        name: typo-inputs
        type: swamp/echo
        inputs:
          properties:
            user: {type: string, patern: '^[a-z]+$'}
            tags: {type: array, items: {type: string, minLenght: 1}}
          requried: [user]
        methods:
          echo:
            inputs:
              properties:
                n: {type: integer, minimum: 1, maximun: 9}
            arguments: {values: {user: "${{ inputs.usr }}"}}
        """,
    "bad-input-schema": """\
        name: bad-input-schema
        type: swamp/echo
        inputs:
          properties:
            user: {type: strng}
        methods:
          echo: {}
        """,
    "ghost": """\
        name: ghost
        type: acme/ghost
        methods:
          boo: {}
        """,
    "typo": """\
        name: typo
        type: command/shell
        metods:
          run:
            arguments: {argv: [true]}
        """,
}

WORKFLOWS = {
    "main": """\
        name: main
        inputs:
          properties:
            who: {type: string}
        jobs:
          first:
            dependsOn: [second, nowhere]
            steps:
              - name: typed
                model: users
                method: create
                inputs: {user: "${{ inputs.who }}", count: three, colour: red}
              - name: missing
                model: users
                method: create
                inputs: {count: 1}
              - name: no-method
                model: users
                method: delete
              - name: no-model
                model: nobody
                method: x
              - name: no-workflow
                workflow: missing-wf
              - name: waits
                model: users
                method: create
                inputs: {user: x}
                dependsOn: [ghost-step]
          second:
            dependsOn: [first]
            steps:
              - name: p
                model: users
                method: create
                inputs: {user: "${{ steps.q.outputs.stdout }}"}
                dependsOn: [q]
              - name: q
                model: users
                method: create
                inputs: {user: "${{ inputs.whom }}"}
                dependsOn: [p]
          third:
            steps:
              - name: typo
                model: users
                method: create
                timout: 5
              - name: exprs
                model: users
                method: create
                inputs:
                  user: "${{ env.PATH }}${{ secrets.OTHER }}${{ item }}${{ inputs.who | upper( }}"
              - name: other-job
                model: users
                method: create
                inputs: {user: "${{ jobs.first.steps.nope.outputs.x }}${{ jobs.fourth.x }}"}
        """,
    "typo-inputs": """\
        name: typo-inputs
        inputs:
          properties:
            hosts: {type: array, item: {type: string}}
        jobs:
          go:
            steps:
              - {name: s, model: users, method: create, inputs: {user: "${{ inputs.host }}"}}
        """,
    "loop-a": """\
        name: loop-a
        jobs:
          go:
            steps:
              - {name: call, workflow: loop-b}
        """,
    "loop-b": """\
        name: loop-b
        jobs:
          go:
            steps:
              - {name: call, workflow: loop-a}
        """,
    "broken-model-users": """\
        name: broken-model-users
        jobs:
          go:
            steps:
              - {name: ok, model: ghost, method: boo}
              - {name: partial, model: bad-args, method: nope}
              - {name: spoiled, model: bad-args, method: neither}
        """,
}

QUEUE_ITEM = """\
id: 0123456789ab
kind: workflow
workflow: nowhere
inputs: {}
requestedBy: alice
requestedAt: "2026-11-24T02:00:00Z"
pin: {}
"""

EXPECTED = """\
models/api.yaml:7:15: methods.get.arguments.method: expected one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", got "FETCH"
models/api.yaml:8:29: methods.get.arguments.expectedStatus[1]: 999 is greater than the maximum of 599
models/bad-args.yaml:6:13: methods.not-a-list.arguments.argv: expected array, got string
models/bad-args.yaml:7:16: methods.not-a-list.arguments.timeout: -1 is less than or equal to the minimum of 0
models/bad-args.yaml:10:7: methods.unknown-argument.arguments: unknown argument 'shell' (expected one of: argv, env, run, stdin, timeout, workingDir)
models/bad-args.yaml:14:7: methods.neither.arguments: missing required argument: one of 'argv' or 'run'
models/bad-args.yaml:16:16: methods.both.arguments: give only one of the arguments 'argv' or 'run', not both
models/bad-input-schema.yaml:5:18: inputs.properties.user.type: expected one of "array", "boolean", "integer", "null", "number", "object", "string", got "strng"
models/exprs.yaml:11:14: methods.syntax.arguments.run: invalid expression ${{ inputs.user | }}: unexpected end of template, expected 'name'.
models/exprs.yaml:14:21: methods.namespaces.arguments.argv[1]: ${{ steps.x.outputs.y }}: 'steps' cannot be used here (expected one of: inputs, env, secrets)
models/exprs.yaml:14:49: methods.namespaces.arguments.argv[2]: ${{ foo.bar }}: unknown name 'foo' (expected one of: inputs, env, secrets)
models/exprs.yaml:14:67: methods.namespaces.arguments.argv[3]: ${{ inputs.usr }}: inputs.usr is not a declared input (known: user)
models/exprs.yaml:17:18: methods.not-allowed.arguments.run: ${{ env.HOME }}: env.HOME is not allowed (list HOME under env in swamp.yaml)
models/exprs.yaml:17:36: methods.not-allowed.arguments.run: ${{ secrets.AWS_KEY }}: secrets.AWS_KEY is not allowed (list AWS_KEY under secrets in swamp.yaml)
models/ghost.yaml:2:7: type: unknown model type 'acme/ghost' (known: command/shell, http/request, swamp/echo)
models/typo-inputs.yaml:5:26: inputs.properties.user: unknown JSON Schema keyword 'patern'
models/typo-inputs.yaml:6:47: inputs.properties.tags.items: unknown JSON Schema keyword 'minLenght'
models/typo-inputs.yaml:7:3: inputs: unknown JSON Schema keyword 'requried'
models/typo-inputs.yaml:12:40: methods.echo.inputs.properties.n: unknown JSON Schema keyword 'maximun'
models/typo-inputs.yaml:13:33: methods.echo.arguments.values.user: ${{ inputs.usr }}: inputs.usr is not a declared input (known: n, tags, user)
models/typo.yaml:1:1: missing required key 'methods'
models/typo.yaml:3:1: unknown key 'metods' (expected one of: arguments, description, inputs, methods, name, type)
queue/0123456789ab.yaml:1:5: id 0123456789ab does not match its content (kind, target and inputs digest to 8b5a892bd2fa): it was edited after it was queued; purge it and queue it again in a reviewed change
queue/0123456789ab.yaml:3:11: workflow: unknown workflow 'nowhere'
swamp.yaml:5:16: defaults.concurrency: 0 is less than the minimum of 1
swamp.yaml:8:11: windows.nightly.cron: '61 2 * * *' has minute 61, out of range (0-59)
swamp.yaml:10:15: windows.nightly.timezone: unknown time zone 'Mars/Olympus'
swamp.yaml:14:5: windows.weekly: unknown key 'timezon' (expected one of: cron, description, duration, timezone)
workflows/broken-model-users.yaml:6:50: jobs.go.steps[1].method: model 'bad-args' has no method 'nope' (known: both, neither, not-a-list, unknown-argument)
workflows/loop-b.yaml:5:32: jobs.go.steps[0].workflow: workflows call each other in a cycle: loop-a -> loop-b -> loop-a
workflows/main.yaml:6:3: jobs.first: dependency cycle between jobs: first -> second -> first
workflows/main.yaml:7:25: jobs.first.dependsOn[1]: unknown job 'nowhere' (jobs: first, second, third)
workflows/main.yaml:12:52: jobs.first.steps[0].inputs.count: expected integer, got string
workflows/main.yaml:12:59: jobs.first.steps[0].inputs: unknown input 'colour' (expected one of: count, user)
workflows/main.yaml:16:17: jobs.first.steps[1].inputs: missing required input 'user'
workflows/main.yaml:19:17: jobs.first.steps[2].method: model 'users' has no method 'delete' (known: create)
workflows/main.yaml:21:16: jobs.first.steps[3].model: unknown model 'nobody' (known: users)
workflows/main.yaml:24:19: jobs.first.steps[4].workflow: unknown workflow 'missing-wf' (known: broken-model-users, loop-a, loop-b)
workflows/main.yaml:29:21: jobs.first.steps[5].dependsOn[0]: unknown step 'ghost-step' in job 'first' (steps: typed, missing, no-method, no-model, no-workflow, waits)
workflows/main.yaml:33:9: jobs.second.steps[0]: dependency cycle between steps: p -> q -> p
workflows/main.yaml:41:25: jobs.second.steps[1].inputs.user: ${{ inputs.whom }}: inputs.whom is not a declared input (known: who)
workflows/main.yaml:48:9: jobs.third.steps[0]: unknown key 'timout' (expected one of: allowFailure, dependsOn, description, idempotent, inputs, method, model, name, retry, timeout, workflow)
workflows/main.yaml:53:18: jobs.third.steps[1].inputs.user: ${{ env.PATH }}: env.PATH is not allowed (list PATH under env in swamp.yaml)
workflows/main.yaml:53:33: jobs.third.steps[1].inputs.user: ${{ secrets.OTHER }}: secrets.OTHER is not allowed (list OTHER under secrets in swamp.yaml)
workflows/main.yaml:53:53: jobs.third.steps[1].inputs.user: ${{ item }}: 'item' cannot be used here (expected one of: inputs, steps, jobs, env, secrets)
workflows/main.yaml:53:64: jobs.third.steps[1].inputs.user: invalid expression ${{ inputs.who | upper( }}: unexpected 'end of template'
workflows/main.yaml:57:25: jobs.third.steps[2].inputs.user: ${{ jobs.first.steps.nope.outputs.x }}: jobs.first.steps.nope is not a step of job 'first'
workflows/main.yaml:57:63: jobs.third.steps[2].inputs.user: ${{ jobs.fourth.x }}: jobs.fourth is not a job of this workflow
workflows/typo-inputs.yaml:4:26: inputs.properties.hosts: unknown JSON Schema keyword 'item'
workflows/typo-inputs.yaml:8:65: jobs.go.steps[0].inputs.user: ${{ inputs.host }}: inputs.host is not a declared input (known: hosts)
"""  # noqa: E501 - lines as long as swamp prints them


def _broken_repo(root: Path) -> Path:
    repo = make_repo(
        root,
        workflows={k: textwrap.dedent(v) for k, v in WORKFLOWS.items()},
        models={k: textwrap.dedent(v) for k, v in MODELS.items()},
        swamp_yaml=SWAMP_YAML,
    )
    (repo / "models" / "sh.yaml").unlink()  # the helper's model is not part of this story
    (repo / "queue" / "0123456789ab.yaml").write_text(QUEUE_ITEM)
    return repo


def test_every_problem_of_every_class_in_one_run(tmp_path: Path) -> None:
    repo = _broken_repo(tmp_path / "r")
    result = swamp(repo, "validate", check=1)
    assert result.stdout == EXPECTED
    count = len(EXPECTED.splitlines())
    assert result.stderr == f"swamp: {count} problems found\n"


def test_json_gives_the_same_problems_as_objects(tmp_path: Path) -> None:
    repo = _broken_repo(tmp_path / "r")
    result = swamp(repo, "validate", "--json", check=1)
    problems = json.loads(result.stdout)
    as_lines = [f"{p['file']}:{p['line']}:{p['column']}: {p['message']}" for p in problems]
    assert as_lines == EXPECTED.splitlines()
    assert {p["severity"] for p in problems} == {"error"}
    assert result.stderr == ""


def test_paths_narrow_the_report_to_those_files(tmp_path: Path) -> None:
    repo = _broken_repo(tmp_path / "r")
    result = swamp(repo, "validate", str(repo / "models" / "api.yaml"), "swamp.yaml", check=1)
    assert result.stdout.splitlines() == [
        line
        for line in EXPECTED.splitlines()
        if line.startswith(("models/api.yaml:", "swamp.yaml:"))
    ]


def test_a_valid_repository_gives_a_one_line_summary(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    result = swamp(repo, "validate")
    assert result.stdout == "ok: 2 files valid (1 models, 0 workflows)\n"
    assert result.stderr == ""
    result = swamp(repo, "validate", "--json")
    assert json.loads(result.stdout) == []


def test_the_example_repository_is_valid() -> None:
    result = swamp(ROOT, "validate")
    assert result.stdout.startswith("ok: ")
    assert result.stdout.count("\n") == 1


def test_a_non_mapping_file_and_an_empty_file_are_one_line_each(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    (repo / "workflows" / "list.yaml").write_text("- just\n- a list\n")
    (repo / "models" / "empty.yaml").write_text("")
    result = swamp(repo, "validate", check=1)
    assert result.stdout == (
        "models/empty.yaml:1:1: expected a mapping at the top, got nothing\n"
        "workflows/list.yaml:1:1: expected a mapping at the top, got list\n"
    )
