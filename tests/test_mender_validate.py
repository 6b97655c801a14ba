"""`swamp validate` on Mender workflows: every problem in one run, as
`file:line:col: message`; what Mender ignores is a warning."""

from __future__ import annotations

import json
from pathlib import Path

from repo_helpers import make_repo, run_ids, swamp

SWAMP_YAML = "version: 1\nenv: [REGION]\n"

BROKEN = """\
{
    "name": "broken",
    "version": 1,
    "owner": "team-x",
    "inputParameters": ["device_id"],
    "tasks": [
        {
            "name": "first",
            "type": "http",
            "retries": -1,
            "http": {
                "uri": "http://127.0.0.1:9/${workflow.input.device}/${env.HOME}",
                "method": "FETCH",
                "requires": ["${workflow.input.device_id}"],
                "json": {"a": "${later.json.id}"},
                "body": "x",
                "headers": {"X-Id": "${encoding=base64;workflow.input.device_id}"}
            }
        },
        {"name": "mail", "type": "smtp", "smtp": {"to": ["ops@example.com"]}},
        {
            "name": "later",
            "type": "cli",
            "cli": {"command": ["echo", "${first.json.}", "${nope.json.x}", "${HOME}"]}
        },
        {"name": "first", "type": "cli"},
        {"name": "queue", "type": "nats", "nats": {}},
        {"type": "ftp"}
    ]
}
"""

ERRORS = [
    "workflows/broken.json:10:24: tasks[0].retries: -1 is less than the minimum of 0",
    "workflows/broken.json:12:24: tasks[0].http.uri: ${env.HOME} reads env.HOME, which "
    "swamp.yaml does not allow; list HOME under env (or secrets) in swamp.yaml",
    "workflows/broken.json:12:24: tasks[0].http.uri: ${workflow.input.device} reads input "
    "'device', which is not in inputParameters or optionalParameters",
    'workflows/broken.json:13:27: tasks[0].http.method: expected one of "GET", "HEAD", "POST", '
    '"PUT", "PATCH", "DELETE", "OPTIONS", got "FETCH"',
    "workflows/broken.json:15:31: tasks[0].http.json.a: ${later.json.id} reads task 'later', "
    "which does not run before this one",
    "workflows/broken.json:17:37: tasks[0].http.headers.X-Id: unknown option 'encoding=base64;' "
    "in ${encoding=base64;workflow.input.device_id} "
    "(expected encoding=url;, encoding=html; or encoding=plain;)",
    "workflows/broken.json:24:41: tasks[2].cli.command[1]: ${first.json.} has an empty JSON path",
    "workflows/broken.json:24:59: tasks[2].cli.command[2]: ${nope.json.x} reads unknown task "
    "'nope'",
    "workflows/broken.json:26:9: tasks[3]: missing the cli block (the task's type is cli)",
    "workflows/broken.json:26:18: tasks[3].name: task 'first' is already defined at tasks[0]",
    "workflows/broken.json:27:51: tasks[4].nats: missing required key 'subject'",
    "workflows/broken.json:28:9: tasks[5]: missing required key 'name'",
    'workflows/broken.json:28:18: tasks[5].type: expected one of "http", "cli", "nats", '
    '"smtp", got "ftp"',
]

WARNINGS = [
    "workflows/broken.json:4:5: warning: unknown key 'owner' is ignored (expected one of: "
    "description, ephemeral, inputParameters, name, optionalParameters, schemaVersion, tasks, "
    "topic, version)",
    "workflows/broken.json:11:21: warning: tasks[0].http: several bodies (json, body); "
    "json is sent, as in Mender",
    "workflows/broken.json:14:17: warning: tasks[0].http: 'requires' in the http block is "
    "ignored (by Mender too); to skip the task, put requires on the task itself",
    "workflows/broken.json:24:77: warning: tasks[2].cli.command[3]: ${HOME} is not a Mender "
    "reference (workflow.input.NAME, env.NAME or TASK.json.PATH); it becomes its default or "
    "nothing, as in Mender",
]


def _repo(tmp_path: Path, **files: str) -> Path:
    repo = make_repo(tmp_path / "r", swamp_yaml=SWAMP_YAML)
    for name, text in files.items():
        (repo / "workflows" / name).write_text(text)
    return repo


def _line(line: str) -> tuple[int, int]:
    _, row, col, _ = line.split(":", 3)
    return int(row), int(col)


def test_every_dialect_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path, **{"broken.json": BROKEN})
    result = swamp(repo, "validate", check=1)
    assert result.stdout.splitlines() == sorted(ERRORS + WARNINGS, key=_line)
    assert result.stderr == "swamp: 13 problems found\n"  # warnings do not count


def test_running_an_invalid_workflow_shows_its_problems_and_runs_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path, **{"broken.json": BROKEN})
    result = swamp(repo, "workflow", "run", "broken", "--input", "device_id=d", check=1)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        *ERRORS,
        "swamp: error: 13 problem(s) in the definitions; nothing was run",
    ]
    assert run_ids(repo) == []


LENIENT = """\
{
    "name": "lenient",
    "ephemeral": true,
    "topic": "devices",
    "schemaVersion": 1,
    "priority": 3,
    "tasks": [{"name": "t", "type": "cli", "cli": {"command": ["true"], "timeout": 3}}]
}
"""


def test_warnings_alone_pass_and_are_in_the_json_report(tmp_path: Path) -> None:
    repo = _repo(tmp_path, **{"lenient.json": LENIENT})
    result = swamp(repo, "validate")
    assert result.stdout.splitlines() == [
        "workflows/lenient.json:6:5: warning: unknown key 'priority' is ignored (expected one "
        "of: description, ephemeral, inputParameters, name, optionalParameters, schemaVersion, "
        "tasks, topic, version)",
        "workflows/lenient.json:7:73: warning: tasks[0].cli: unknown key 'timeout' is ignored "
        "(expected one of: command, executionTimeOut)",
        "ok: 3 files valid (1 models, 1 workflows)",
    ]
    reported = json.loads(swamp(repo, "validate", "--json").stdout)
    assert [(p["line"], p["column"], p["severity"]) for p in reported] == [
        (6, 5, "warning"),
        (7, 73, "warning"),
    ]
    swamp(repo, "workflow", "run", "lenient")


def test_same_version_twice_and_a_name_taken_by_a_swamp_workflow(tmp_path: Path) -> None:
    task = '"tasks": [{"name": "t", "type": "cli", "cli": {"command": ["true"]}}]'
    repo = _repo(
        tmp_path,
        **{
            "a.json": '{"name": "twin", "version": 2, ' + task + "}",
            "b.json": '{"name": "twin", "version": 2, ' + task + "}",
            "c.json": '{"name": "twin", ' + task + "}",
            "deploy.json": '{"name": "deploy", ' + task + "}",
            "deploy.yaml": "name: deploy\njobs:\n  j:\n    steps:\n"
            "      - {name: s, model: sh, method: mark, inputs: {name: x}}\n",
        },
    )
    result = swamp(repo, "validate", check=1)
    assert result.stdout.splitlines() == [
        "workflows/a.json:1:29: version: workflow 'twin' has version 2 in workflows/b.json too; "
        "the highest version runs, so give them different versions",
        "workflows/b.json:1:29: version: workflow 'twin' has version 2 in workflows/a.json too; "
        "the highest version runs, so give them different versions",
        "workflows/deploy.json:1:10: name: workflow 'deploy' is already defined in "
        "workflows/deploy.yaml",
    ]
    swamp(repo, "workflow", "run", "deploy")  # the swamp workflow is not affected
