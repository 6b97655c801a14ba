"""Loading YAML and JSON safely: every refusal is one exact `file:line:col: message`."""

from __future__ import annotations

from pathlib import Path

import pytest
from repo_helpers import make_repo, swamp

from swamp.loader import MAX_FILE_BYTES, LoadError, load_file

# Each bad file under workflows/, and the one line `swamp validate` gives for it.
BAD_FILES: dict[str, tuple[str | bytes, str]] = {
    "dup-key.yaml": (
        "name: dup\njobs:\n  a:\n    steps: []\n    steps: []\n",
        "workflows/dup-key.yaml:5:5: duplicate key 'steps'",
    ),
    "dup-key.json": (
        '{\n  "name": "dupj",\n  "jobs": {"a": {"steps": [], "steps": []}}\n}\n',
        "workflows/dup-key.json:3:31: duplicate key 'steps'",
    ),
    "python-object.yaml": (
        "name: evil\njobs: !!python/object/apply:os.system ['touch pwned']\n",
        "workflows/python-object.yaml:2:7: unsupported tag !!python/object/apply:os.system "
        "(only strings, numbers, booleans, null, lists and mappings)",
    ),
    "python-name.yaml": (
        "name: evil2\njobs:\n  a: !!python/name:os.system\n",
        "workflows/python-name.yaml:3:6: unsupported tag !!python/name:os.system "
        "(only strings, numbers, booleans, null, lists and mappings)",
    ),
    "custom-tag.yaml": (
        "name: cfn\njobs: !Ref Jobs\n",
        "workflows/custom-tag.yaml:2:7: unsupported tag !Ref "
        "(only strings, numbers, booleans, null, lists and mappings)",
    ),
    "set-tag.yaml": (
        "name: set\njobs: !!set {a, b}\n",
        "workflows/set-tag.yaml:2:7: unsupported tag !!set "
        "(only strings, numbers, booleans, null, lists and mappings)",
    ),
    "bad-int.yaml": (
        "name: badint\njobs:\n  a:\n    steps:\n      - {name: s, timeout: !!int soon}\n",
        "workflows/bad-int.yaml:5:28: 'soon' is not a valid int",
    ),
    "recursive.yaml": (
        "name: rec\njobs: &j\n  a: *j\n",
        "workflows/recursive.yaml:2:7: an alias refers to a node that contains it "
        "(recursive alias)",
    ),
    "too-deep.json": (
        '{"name": "deep", "jobs": ' + "[" * 150 + "]" * 150 + "}",
        "workflows/too-deep.json:1:126: nested more than 100 levels deep",
    ),
    "invalid.yaml": (
        "name: broken\njobs: [a, b\nmore: 1\n",
        "workflows/invalid.yaml:3:5: invalid YAML: did not find expected ',' or ']'",
    ),
    "tab.yaml": (
        "name: tab\njobs:\n\ta: 1\n",
        "workflows/tab.yaml:3:1: invalid YAML: a tab character in the indentation; "
        "YAML indents with spaces only",
    ),
    "two-docs.yaml": (
        "name: two\n---\nname: docs\n",
        "workflows/two-docs.yaml:2:1: invalid YAML: expected a single document in the "
        "stream, but found another document",
    ),
    "invalid.json": (
        '{\n  "name": "j",\n  "jobs": {,}\n}\n',
        "workflows/invalid.json:3:12: invalid JSON: Expecting property name enclosed in "
        "double quotes",
    ),
    "trailing-comma.json": (
        '{"name": "j", "jobs": {},}',
        "workflows/trailing-comma.json:1:26: invalid JSON: Expecting property name enclosed "
        "in double quotes",
    ),
    "latin1.yaml": (
        b"name: caf\xe9\njobs: {}\n",
        "workflows/latin1.yaml:1:1: not UTF-8 text: invalid continuation byte",
    ),
}

# A billion laughs: 9^9 list items from a few hundred bytes.
BOMB = "name: lol\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)
BOMB = BOMB.replace("b: &b [*a", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a", 1)


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def test_validate_reports_every_unloadable_file_with_its_position(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    for name, (content, _) in BAD_FILES.items():
        _write(repo / "workflows" / name, content)
    (repo / "workflows" / "bomb.yaml").write_text(BOMB)
    big = repo / "workflows" / "big.yaml"
    big.write_text("name: big\ndescription: " + "x" * MAX_FILE_BYTES + "\n")
    size = big.stat().st_size

    result = swamp(repo, "validate", check=1)

    expected = [line for _, line in BAD_FILES.values()]
    expected.append(
        "workflows/bomb.yaml:7:4: holds more than 200000 values once aliases are expanded"
    )
    expected.append(f"workflows/big.yaml:1:1: file is {size} bytes; the limit is 2097152 bytes")
    assert result.stdout.splitlines() == sorted(expected, key=_position_key)
    assert result.stderr == f"swamp: {len(expected)} problems found\n"
    assert not (repo / "pwned").exists()


def _position_key(line: str) -> tuple[str, int, int]:
    file, row, col, _ = line.split(":", 3)
    return file, int(row), int(col)


def test_the_bomb_is_refused_before_anything_is_expanded(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    with pytest.raises(LoadError) as caught:
        load_file(path, "bomb.yaml")
    assert str(caught.value.problem) == (
        "bomb.yaml:7:4: holds more than 200000 values once aliases are expanded"
    )


def test_timestamps_and_other_scalars_keep_their_meaning(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(
        "date: 2026-11-24\n"
        "when: 2026-11-24T02:00:00Z\n"
        "spaced: 2026-11-24 02:00:00\n"
        "quoted: '42'\n"
        "number: 42\n"
        "real: 1.5\n"
        "flag: true\n"
        "nothing: null\n"
        "on: kept as the key 'on'\n"
        "merged:\n  <<: {a: 1, b: 2}\n  b: 3\n"
    )
    data = load_file(path).data
    assert data == {
        "date": "2026-11-24",
        "when": "2026-11-24T02:00:00Z",
        "spaced": "2026-11-24 02:00:00",
        "quoted": "42",
        "number": 42,
        "real": 1.5,
        "flag": True,
        "nothing": None,
        "on": "kept as the key 'on'",
        "merged": {"a": 1, "b": 3},
    }
    assert [type(v).__name__ for v in data.values()][:3] == ["str", "str", "str"]


def test_unquoted_timestamps_validate_as_the_strings_the_schemas_expect(tmp_path: Path) -> None:
    wf = """\
name: dated
inputs:
  properties:
    day: {type: string, default: 2026-11-24}
jobs:
  a:
    steps:
      - {name: s, model: sh, method: echo, inputs: {value: 2026-11-24T02:00:00Z}}
"""
    repo = make_repo(tmp_path / "r", {"dated": wf})
    result = swamp(repo, "validate")
    assert result.stdout == "ok: 3 files valid (1 models, 1 workflows)\n"


def test_json_definitions_get_positions_too(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    (repo / "workflows" / "j.json").write_text(
        '{\n  "name": "j",\n  "jobs": {\n    "a": {"steps": [{"name": "s", "model": "sh",'
        ' "method": "echo", "inputs": {"value": 1}}]}\n  }\n}\n'
    )
    result = swamp(repo, "validate", check=1)
    assert result.stdout == (
        "workflows/j.json:4:88: jobs.a.steps[0].inputs.value: expected string, got integer\n"
    )


def test_an_unreadable_path_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as caught:
        load_file(tmp_path / "missing.yaml", "missing.yaml")
    assert (
        str(caught.value.problem) == "missing.yaml:1:1: cannot read file: No such file or directory"
    )


def test_json_that_yaml_cannot_read_still_loads_and_is_still_bounded(tmp_path: Path) -> None:
    """U+FFFE is valid in JSON but not in YAML: no positions, same limits."""
    path = tmp_path / "odd.json"
    path.write_text('{"name": "odd\ufffe", "jobs": {}}')
    assert load_file(path).data == {"name": "odd\ufffe", "jobs": {}}
    path.write_text('{"name": "odd\ufffe", "jobs": ' + "[" * 150 + "]" * 150 + "}")
    with pytest.raises(LoadError) as caught:
        load_file(path, "odd.json")
    assert str(caught.value.problem) == "odd.json:1:1: nested more than 100 levels deep"


def test_a_state_is_written_to_yaml_as_its_plain_name() -> None:
    from swamp.engine.state import RunStatus
    from swamp.items import ItemState
    from swamp.loader import dump_yaml

    text = dump_yaml({"state": ItemState.SUCCEEDED, "result": {"status": RunStatus.FAILED}})
    assert text == "state: succeeded\nresult:\n  status: failed\n"
