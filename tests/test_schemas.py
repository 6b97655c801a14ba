"""The JSON Schemas under schemas/: what editors need, and what a wheel carries."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILES = sorted((ROOT / "schemas").glob("*.json"))

# The rule: an object either lists its keys (`properties` with
# `additionalProperties: false`, so that a typo is an error), or is a map of
# names to values (`additionalProperties` is a schema), or is named here with
# the reason why its keys are free.
FREE_FORM = {
    # Checked against the model type's argument schema by `swamp validate`.
    ("model.schema.json", "properties.arguments"),
    ("model.schema.json", "properties.methods.*.properties.arguments"),
    # A JSON Schema: any keyword may appear; `swamp validate` reports the
    # keywords JSON Schema does not know.
    ("model.schema.json", "$defs.inputSchema"),
    ("model.schema.json", "$defs.inputSchema.properties.properties.*"),
    ("workflow.schema.json", "$defs.inputSchema"),
    ("workflow.schema.json", "$defs.inputSchema.properties.properties.*"),
    # Checked against the declared input schema of the target.
    ("workflow.schema.json", "$defs.step.properties.inputs"),
    ("queue-item.schema.json", "properties.inputs"),
    # Whatever the methods returned, and records swamp writes itself.
    ("queue-item.schema.json", "properties.result.properties.outputs"),
    ("queue-item.schema.json", "properties.result.properties.commits"),
    ("queue-item.schema.json", "properties.result.properties.releasedBy.items"),
    # Mender task types swamp does not run: `validate` reports them unsupported.
    ("mender-workflow.schema.json", "$defs.task.properties.nats"),
    ("mender-workflow.schema.json", "$defs.task.properties.smtp"),
}

_SUBSCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
# Not `if` and `not`: they test instances, they do not declare keys.
_SUBSCHEMA_ONE = ("items", "additionalProperties", "then", "else", "contains")


def _subschemas(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema that declares something, with its path in the file."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    join = f"{path}." if path else ""
    for key in _SUBSCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            wildcard = "*" if key == "patternProperties" else name
            yield from _subschemas(sub, f"{join}{key}.{wildcard}")
    for key in _SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            yield from _subschemas(sub, f"{join}{key}.{i}")
    for key in _SUBSCHEMA_ONE:
        if isinstance(schema.get(key), dict):
            # A map's values: `methods.*` rather than `additionalProperties`.
            step = "*" if key == "additionalProperties" else key
            yield from _subschemas(schema[key], f"{join}{step}")


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return {**node, **schema}


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_has_an_id_and_is_draft_2020_12(path: Path) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    # An identifier, not a location: stable, and on no domain someone else may own.
    assert schema["$id"] == "urn:swamp:schema:" + path.name.removesuffix(".schema.json")
    assert schema["description"]
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_property_has_a_description(path: Path) -> None:
    root = json.loads(path.read_text())
    missing = [
        f"{where}.properties.{name}"
        for where, schema in _subschemas(root)
        for name, prop in (schema.get("properties") or {}).items()
        if not _resolve(root, prop).get("description")
    ]
    assert missing == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_objects_refuse_unknown_keys_unless_they_are_maps_or_free_form(path: Path) -> None:
    root = json.loads(path.read_text())
    offenders = []
    for where, schema in _subschemas(root):
        is_object = schema.get("type") == "object" or "properties" in schema
        if not is_object or (path.name, where) in FREE_FORM:
            continue
        closed = schema.get("additionalProperties") is False and "properties" in schema
        is_map = isinstance(schema.get("additionalProperties"), dict)
        if not (closed or is_map):
            offenders.append(where or "(root)")
    assert offenders == []


def test_every_free_form_entry_still_exists() -> None:
    """The exceptions above name real places, so the list cannot go stale."""
    places = {
        (path.name, where)
        for path in SCHEMA_FILES
        for where, _ in _subschemas(json.loads(path.read_text()))
    }
    assert sorted(FREE_FORM - places) == []


def test_the_wheel_carries_the_schemas_and_an_installed_swamp_finds_them(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(dist),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("swamp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n for n in names if n.startswith("swamp/schemas/")) == [
        f"swamp/schemas/{p.name}" for p in SCHEMA_FILES
    ]

    # Install it apart from the source tree and run it from elsewhere: the
    # schemas it uses must be its own.
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "swamp.yaml").write_text("version: 1\nunknown: 1\n")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from swamp import schemas; print(schemas.schema_dir());"
        "from swamp.cli import main; sys.argv = ['swamp', '--repo', sys.argv[2], 'validate'];"
        "sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(target), str(repo)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.stdout.splitlines() == [
        str(target / "swamp" / "schemas"),
        "swamp.yaml:2:1: unknown key 'unknown' (expected one of: approval, defaults, "
        "description, env, secrets, serve, version, windows)",
    ]
    assert result.returncode == 1


def test_a_schema_that_passed_the_meta_schema_is_not_checked_again_but_a_lookalike_is() -> None:
    """check_schema remembers schemas that passed, by their JSON text; a value
    whose text is the same but which is not plain JSON data (a tuple is no
    JSON array) is checked, and its problem still reported."""
    from swamp import schemas

    schemas._PASSED.clear()
    assert schemas.check_schema({"enum": ["a"], "type": "string"}) == []
    assert len(schemas._PASSED) == 1
    assert schemas.check_schema({"enum": ["a"], "type": "string"}) == []
    assert schemas.check_schema({"enum": ("a",), "type": "string"}) != []
    assert schemas.check_schema({"type": "strin"}) != []  # a problem is never remembered
    assert schemas.check_schema({"type": "strin"}) != []
