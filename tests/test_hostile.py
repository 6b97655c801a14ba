"""The hostile corpus (tests/hostile/): YAML, queue files, names and paths,
symlinks, journals, injection, templates and secrets.

Every case is called in-process (the loader, the gate, the engine, or the
CLI where the case is about a command) and asserts the same five things: no
crash, no hang (an alarm bounds it), nothing runs that was not reviewed (the
request that would run is the reviewed one, and no MARKER file appears), no
secret in any file or output in the spellings the README promises to mask,
and every refusal is one line.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from repo_helpers import make_repo
from trust_helpers import cli

from swamp import expressions, items, secrets
from swamp.engine import runs
from swamp.engine.runs import NewRun
from swamp.errors import SwampError
from swamp.identity import checked_text
from swamp.items import BrokenItem, Item
from swamp.queue.executor import Executor
from swamp.queue.stage import When, stage
from swamp.queue.status import ItemLock
from swamp.validate import load_repository

HERE = Path(__file__).parent / "hostile"
YAML_CASES: dict[str, str] = json.loads((HERE / "yaml_cases.json").read_text())
STRINGS: list[str] = json.loads((HERE / "strings.json").read_text())
JOURNALS: list[str] = json.loads((HERE / "journals.json").read_text())
TEMPLATES: list[str] = json.loads((HERE / "templates.json").read_text())
SECRET_VALUES = ("s3cr3t-Value with spaces&more", 'quote"and\\slash', "ünïcode-sécret/€")
BOUND_SECONDS = 20

TOUCH = """\
name: evil
type: command/shell
methods:
  touch:
    arguments:
      run: touch MARKER
"""


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Fail (never hang) a case that takes longer than BOUND_SECONDS."""

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"a hostile case ran longer than {BOUND_SECONDS}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(BOUND_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def one_line(text: str) -> None:
    assert "\n" not in text and "\r" not in text, repr(text)
    assert "\x1b" not in text and "\x00" not in text, repr(text)
    assert len(text) < 1000, len(text)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Item]:
    """A repository with one reviewed item: sh.mark name=base."""
    repo = make_repo(tmp_path_factory.mktemp("hostile") / "r", models={"evil": TOUCH})
    loaded = load_repository(repo)
    item = stage(loaded, "method", "sh.mark", {"name": "base"}, by="t", note=None, when=When())
    return repo, item


_LOADED: dict[Path, Any] = {}


def _loaded(repo: Path) -> Any:
    """The repository's definitions, loaded once: the cases change only queue/ and runs/."""
    if repo not in _LOADED:
        _LOADED[repo] = load_repository(repo)
    return _LOADED[repo]


def _reviewed(item: Item, reviewed: Item) -> bool:
    return (item.kind, item.target, item.inputs, dict(item.request.pin)) == (
        reviewed.kind,
        reviewed.target,
        reviewed.inputs,
        dict(reviewed.request.pin),
    )


def _judge(repo: Path, loaded: Item | BrokenItem, reviewed: Item) -> None:
    """Whatever the executor decides for `loaded`: one-line refusals, and
    only the reviewed request may run."""
    if isinstance(loaded, BrokenItem):
        one_line(str(loaded.problem))
        return
    executor = Executor(_loaded(repo), "t", dry_run=True, quiet=True)
    decided = executor.decide(loaded, True, ItemLock(repo, loaded.id))
    assert not isinstance(decided, SwampError)
    outcome = getattr(decided, "outcome", "would-run")
    one_line(getattr(decided, "detail", ""))
    if outcome == "would-run":
        assert _reviewed(loaded, reviewed)
    assert not (repo / "MARKER").exists()


# -- YAML ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(YAML_CASES))
def test_yaml(name: str, base: tuple[Path, Item]) -> None:
    repo, reviewed = base
    path = repo / "queue" / f"hostile-{name}-000000000001.yaml"
    with bounded():
        loaded = items.parse_item(YAML_CASES[name], path)
        _judge(repo, loaded, reviewed)


# -- queue files: hostile values in every field a file may carry --------------

FIELDS = ("id", "run", "state", "heldJob", "note", "notBefore", "window", "model", "pin-key")


def _mutated(reviewed: Item, field: str, value: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(reviewed.fields()))
    if field == "pin-key":
        data["pin"] = {value: next(iter(data["pin"].values()))}
    else:
        data[field] = value
    if field in ("run", "heldJob"):
        data["state"] = "held" if field == "heldJob" else "failed"
        data["release"] = {"job": value, "by": "x", "at": "2026-11-24T02:00:00Z"}
    return data


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", STRINGS, ids=range(len(STRINGS)))
def test_queue_field(field: str, value: str, base: tuple[Path, Item]) -> None:
    repo, reviewed = base
    text = json.dumps(_mutated(reviewed, field, value))
    with bounded():
        loaded = items.parse_item(text, reviewed.path)
        _judge(repo, loaded, reviewed)


# -- names and paths given on the command line --------------------------------


@pytest.mark.parametrize("value", STRINGS, ids=range(len(STRINGS)))
def test_names_on_the_command_line(value: str, base: tuple[Path, Item]) -> None:
    repo, _ = base
    if value.startswith("-"):
        value = f"x{value}"  # an option, not a value: typer's business
    with bounded():
        try:
            checked_text("--by", value)
        except SwampError as e:
            one_line(str(e))
        try:
            runs.find_run(repo, value)
        except SwampError as e:
            one_line(str(e))
        for args in (("queue", "execute", "--item", value, "--dry-run"),):
            result = cli(repo, *args)
            assert result.code in (0, 1, 2), result.text
            assert "unexpected" not in result.text
            for line in result.stderr.splitlines():
                one_line(line)
    assert not (repo / "MARKER").exists()
    assert sorted(p.name for p in (repo / "queue").iterdir()) == [base[1].path.name]


# -- journals: a planted runs/<id>/journal.jsonl never decides what runs ------


@pytest.mark.parametrize("n", range(len(JOURNALS)))
def test_journal(n: int, base: tuple[Path, Item]) -> None:
    repo, reviewed = base
    run = f"20261124-020000-hostile-{n:06d}"
    text = (
        JOURNALS[n]
        .replace('"r"', json.dumps(run))
        .replace("ITEM", reviewed.id)
        .replace('"REQUEST"', json.dumps(reviewed.request.digest()))
        .replace('"PIN"', json.dumps(dict(reviewed.request.pin)))
    )
    folder = repo / "runs" / run
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_text(text + "\n")
    data = dict(reviewed.fields(), state="held", run=run, heldJob="mark")
    data["release"] = {"job": "mark", "by": "x", "at": "2026-11-24T02:00:00Z"}
    with bounded():
        loaded = items.parse_item(json.dumps(data), reviewed.path)
        _judge(repo, loaded, reviewed)


# -- injection: hostile input values reach a shell script as data only --------


@pytest.mark.parametrize("value", STRINGS, ids=range(len(STRINGS)))
def test_injection(value: str, base: tuple[Path, Item]) -> None:
    from swamp.engine import service

    repo, _ = base
    loaded = _loaded(repo)
    with bounded():
        try:
            result = service.start(
                loaded, NewRun("method", "sh.echo", {"value": value}, "t"), quiet=True
            )
        except SwampError as e:
            one_line(str(e))
        else:
            assert result.state.state in ("succeeded", "failed")
    assert not (repo / "MARKER").exists()


# -- templates: expressions stay in the sandbox, bounded ----------------------


@pytest.mark.parametrize("n", range(len(TEMPLATES)))
def test_template(n: int, base: tuple[Path, Item]) -> None:
    repo, _ = base
    context = {"inputs": {"x": 1}, "env": {}, "secrets": {"SWAMP_TEST_SECRET": "tmpl-secret-1"}}
    secrets.register("tmpl-secret-1")
    try:
        with bounded():
            try:
                value = expressions.render_string(TEMPLATES[n], context)
            except SwampError as e:
                one_line(str(e))
            else:
                assert len(str(value)) < 2_000_000
                assert "tmpl-secret-1" not in secrets.mask_text(str(value))
    finally:
        secrets.clear()
    assert not (repo / "MARKER").exists()


# -- secrets: every promised spelling is masked in files and output -----------


def _spellings(value: str) -> list[str]:
    escaped = json.dumps(value)[1:-1]
    return [value, shlex.quote(value), escaped, quote(value, safe=""), quote_plus(value, safe="")]


@pytest.mark.parametrize("spelling", range(5))
@pytest.mark.parametrize("secret", SECRET_VALUES)
def test_secret(secret: str, spelling: int, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    shown = _spellings(secret)[spelling]
    env = {"SWAMP_TEST_SECRET": secret}
    with bounded():
        result = cli(repo, "method", "run", "sh", "echo", "--input", f"value={shown}", env=env)
    assert result.code in (0, 1)
    written = "".join(p.read_text() for p in repo.rglob("*") if p.is_file())
    for text in (written, result.text):
        assert shown not in text
        assert secret not in text


# -- symlinks: nothing read through one, nothing written through one ----------


SYMLINKS = (
    "queue-file-outside",
    "queue-file-inside",
    "queue-file-dangling",
    "queue-folder",
    "done-folder",
    "runs-folder",
    "models-file",
    "models-folder",
    "workflows-file",
    "workflows-folder",
    "loop",
    "run-folder",
)


@pytest.mark.parametrize("case", SYMLINKS)
def test_symlink(case: str, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", models={"evil": TOUCH})
    outside = tmp_path / "outside"
    outside.mkdir()
    staged = cli(repo, "method", "queue", "sh", "mark", "--input", "name=s")
    assert staged.code == 0
    (item,) = (repo / "queue").glob("*.yaml")
    evil_item = stage(
        load_repository(repo), "method", "evil.touch", {}, by="t", note=None, when=When()
    )
    (outside / evil_item.path.name).write_text(evil_item.path.read_text())
    evil_item.path.unlink()
    links = {
        "queue-file-outside": (repo / "queue" / evil_item.path.name, outside / evil_item.path.name),
        "queue-file-inside": (repo / "queue" / f"copy-{item.stem[-12:]}.yaml", item),
        "queue-file-dangling": (repo / "queue" / "dangling-000000000000.yaml", outside / "none"),
        "done-folder": (repo / "done", outside),
        "runs-folder": (repo / "runs", outside),
        "models-file": (repo / "models" / "other.yaml", outside / "other.yaml"),
        "workflows-file": (repo / "workflows" / "w.yaml", outside / "w.yaml"),
        "loop": (
            repo / "queue" / "loop-000000000000.yaml",
            repo / "queue" / "loop-000000000000.yaml",
        ),
    }
    (outside / "other.yaml").write_text(TOUCH.replace("evil", "other"))
    (outside / "w.yaml").write_text(
        "name: w\njobs: {j: {steps: [{name: s, model: evil, method: touch}]}}\n"
    )
    if case == "queue-folder":
        moved = outside / "queue"
        (repo / "queue").rename(moved)
        (repo / "queue").symlink_to(moved)
    elif case in ("models-folder", "workflows-folder"):
        folder = case.split("-", maxsplit=1)[0]
        moved = outside / folder
        (repo / folder).rename(moved)
        (repo / folder).symlink_to(moved)
    elif case == "run-folder":
        (repo / "runs").mkdir(exist_ok=True)
        (repo / "runs" / "20261124-020000-x-abcdef").symlink_to(outside)
    else:
        link, target = links[case]
        link.symlink_to(target)
    before = sorted(p.name for p in outside.rglob("*"))
    with bounded():
        result = cli(repo, "queue", "execute", "--all")
        validated = cli(repo, "validate")
    for r in (result, validated):
        assert r.code in (0, 1), r.text
        assert "unexpected" not in r.text
        for line in r.stderr.splitlines():
            one_line(line)
    assert not (repo / "MARKER").exists()
    assert not (outside / "MARKER").exists()
    if case not in ("queue-folder", "models-folder", "workflows-folder"):
        assert sorted(p.name for p in outside.rglob("*")) == before
    if (case != "queue-file-inside" and case in links) or "folder" in case:
        assert "symbolic link" in result.text + validated.text
