"""`queue list` without validating every definition: the cached index of
digests (swamp/pins.py), what it may and may not be trusted for, and the
start-up it saves."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from repo_helpers import DEPLOY, imports_of, make_repo, marks, swamp

from swamp import pins
from swamp.cli.values import _NOT_PLAIN, plain
from swamp.definitions import Approval, Config, ServeSettings, Window
from swamp.errors import SwampError
from swamp.loader import LoadError, load_yaml_text
from swamp.validate import load_repository

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("jsonschema", "jinja2", "git", "httpx", "pydantic")


def _list(repo: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(swamp(repo, "queue", "list", "--json").stdout)
    return rows


def _queued(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "r", {"deploy": DEPLOY})
    swamp(repo, "workflow", "queue", "deploy")
    return repo


def test_the_example_is_listed_without_any_heavy_library(tmp_path: Path) -> None:
    repo = tmp_path / "example"
    for name in ("models", "workflows", "queue"):
        shutil.copytree(ROOT / name, repo / name)
    shutil.copy(ROOT / "swamp.yaml", repo / "swamp.yaml")
    first = _list(repo)  # validates everything once, and keeps the index
    assert (repo / pins.CACHE).is_file()
    imported, printed = imports_of("-C", str(repo), "queue", "list")
    assert "swamp.items" in imported  # the measurement sees swamp's own imports
    assert sorted(m for m in imported if m.split(".")[0] in HEAVY) == []
    assert [r["id"] for r in first] == [
        line.split()[0] for line in printed.splitlines()[1 : len(first) + 1]
    ]


def test_a_definition_changed_after_a_listing_makes_its_item_stale(tmp_path: Path) -> None:
    repo = _queued(tmp_path)
    assert [r["state"] for r in _list(repo)] == ["queued"]
    wf = repo / "workflows" / "deploy.yaml"
    wf.write_text(wf.read_text().replace("deploy-", "deploy-v2-"))
    (row,) = _list(repo)
    assert (row["state"], row["detail"]) == ("stale", "changed since review: workflows/deploy.yaml")


def test_a_damaged_cache_is_read_as_no_cache(tmp_path: Path) -> None:
    repo = _queued(tmp_path)
    expected = _list(repo)
    cache = repo / pins.CACHE
    entry = json.loads(cache.read_text())
    damaged = [
        "{not json",
        json.dumps([1, 2]),
        json.dumps({**entry, "digests": {"workflows/deploy.yaml": 7}}),
        json.dumps({**entry, "depends": {"workflow:deploy": "workflows/deploy.yaml"}}),
        json.dumps({**entry, "config": {"windows": {"w": {"cron": 1}}}}),
        json.dumps({**entry, "format": 0}),
    ]
    for text in damaged:
        cache.write_text(text)
        assert _list(repo) == expected, text
    assert json.loads(cache.read_text()) == entry  # rewritten by the full load


def test_a_forged_cache_never_gets_a_stale_item_executed(tmp_path: Path) -> None:
    """The cache serves listing only: the gate validates again, so an entry
    that vouches for a changed definition runs nothing."""
    repo = _queued(tmp_path)
    _list(repo)
    cache = repo / pins.CACHE
    entry = json.loads(cache.read_text())
    wf = repo / "workflows" / "deploy.yaml"
    wf.write_text(wf.read_text().replace("deploy-", "deploy-v2-"))
    entry["key"] = pins.content_key(repo)  # as if the old digests were still right
    cache.write_text(json.dumps(entry))
    result = swamp(repo, "queue", "execute", "--all", check=1)
    assert "stale: changed since review: workflows/deploy.yaml" in result.stdout
    assert marks(repo) == []


def test_the_index_answers_as_the_repository_does(tmp_path: Path) -> None:
    repo_path = make_repo(tmp_path / "r", {"deploy": DEPLOY})
    repo = load_repository(repo_path)
    index = pins.load_index(repo_path)  # a full load: nothing cached yet
    again = pins.load_index(repo_path)  # from the cache
    for ix in (index, again):
        assert ix.digests == repo.digests
        assert ix.config == repo.config
        assert ix.target_files("workflow", "deploy") == repo.target_files("workflow", "deploy")
        assert ix.target_files("method", "sh.mark") == ["models/sh.yaml"]
        assert ix.target_files("workflow", "nowhere") == []
        with pytest.raises(SwampError, match="unknown model 'nobody'"):
            ix.target_files("method", "nobody.x")


def test_a_config_survives_its_round_trip_through_the_cache() -> None:
    config = Config(
        env=frozenset({"A", "B"}),
        secrets=frozenset({"S"}),
        windows={"w": Window("w", "0 2 * * *", 5400.0, "Europe/Paris")},
        concurrency=3,
        step_timeout=30.0,
        stop_grace=2.5,
        claim_timeout=60.0,
        approval=Approval(2, True, "https://forge.example", "FORGE_TOKEN", "acme/ops"),
        description="ops",
        serve=ServeSettings(("deploy*",), True, True),
    )
    assert Config.from_data(config.to_data()) == config
    assert Config.from_data(Config().to_data()) == Config()


def test_plain_values_are_converted_as_typer_converts_them(tmp_path: Path) -> None:
    from typer.models import OptionInfo

    info = OptionInfo()
    assert plain(str, info, "x") == "x"
    assert plain(Path, info, "a/b") == Path("a/b")
    assert plain(list[str], info, ("a", "b")) == ["a", "b"]
    assert plain(list[Path], info, ["a"]) == [Path("a")]
    # Anything else goes to typer: numbers, checked paths, a path it may not read.
    assert plain(int, info, "3") is _NOT_PLAIN
    assert plain(Path, OptionInfo(exists=True), "a") is _NOT_PLAIN
    assert plain(Path, info, "") is _NOT_PLAIN
    assert plain(list[str], info, "a") is _NOT_PLAIN
    assert plain(list[int], info, ["1"]) is _NOT_PLAIN
    secret = tmp_path / "secret"
    secret.write_text("")
    secret.chmod(0)
    if not os.access(secret, os.R_OK):  # root reads everything
        assert plain(Path, info, str(secret)) is _NOT_PLAIN


def test_typer_still_checks_the_values_it_owns(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    result = swamp(repo, "queue", "execute", "--all", "--concurrency", "0", check=2)
    assert "Invalid value for '--concurrency'" in result.stderr
    assert swamp(repo, "queue", "execute", "--all", "--concurrency", "2").returncode == 0


def test_a_deep_text_without_alias_is_refused_where_the_full_check_refuses_it() -> None:
    deep = "a: " + "[" * 120 + "]" * 120 + "\n"
    problems = []
    for text in (deep, deep + "# * makes the loader walk the whole tree first\n"):
        with pytest.raises(LoadError) as e:
            load_yaml_text(text, "deep.yaml")
        problems.append(e.value.problem)
    assert problems[0] == problems[1]
    assert problems[0].message == "nested more than 100 levels deep"


def test_every_stored_state_is_shown_under_its_own_name() -> None:
    from swamp.items import ItemState
    from swamp.queue.status import DisplayState, shown

    assert {shown(s) for s in ItemState} <= set(DisplayState)
    assert all(shown(s) == s.value for s in ItemState)


def _with_states(tmp_path: Path) -> Path:
    """The example queue, its items edited into a state each (as runners
    elsewhere, signals and hands would leave them)."""
    repo = tmp_path / "example"
    for name in ("models", "workflows", "queue"):
        shutil.copytree(ROOT / name, repo / name)
    shutil.copy(ROOT / "swamp.yaml", repo / "swamp.yaml")
    extra = {
        "14db5a561c13": "state: held\nheldJob: approve\nrun: r1\n",
        "9f094015fa71": "state: failed\nrun: r2\nfailedStep: a/b\n",
        "dda1c4e68bb4": "state: running\nrun: r3\nclaim: {by: bob, host: elsewhere, "
        "at: '2020-01-01T00:00:00Z'}\n",
        "ef306cc66e4d": "state: running\nrun: r4\nclaim: {by: bob, host: elsewhere, "
        "at: '2099-01-01T00:00:00Z'}\n",
        "aec51e079728": "state: interrupted\nrun: r5\n",
        "d2b6b05dfbdb": "state: cancelled\n",
        "1bd41757736b": "notBefore: '2099-01-01T00:00:00Z'\n",
    }
    for path in (repo / "queue").iterdir():
        item_id = path.stem.rsplit("-", 1)[-1]
        text = path.read_text().replace("state: queued\n", "")
        path.write_text(text + extra.get(item_id, "state: queued\n"))
    (repo / "done").mkdir()
    vpn = next((repo / "queue").glob("*1bd41757736b.yaml")).read_text()
    (repo / "done" / "vpn-1bd41757736b.yaml").write_text(
        vpn.replace("notBefore: '2099-01-01T00:00:00Z'\n", "") + "state: succeeded\nrun: r9\n"
    )
    return repo


def test_queue_list_json_prints_display_states_as_their_plain_names(tmp_path: Path) -> None:
    from swamp.queue.listing import queue_rows
    from swamp.queue.status import DisplayState

    repo = _with_states(tmp_path)
    rows, broken = queue_rows(load_repository(repo), include_done=True)
    assert broken == []
    assert all(type(r["state"]) is DisplayState for r in rows)
    printed = swamp(repo, "queue", "list", "--json", "--done").stdout
    assert [line.split('"state": ')[1].split('"')[1] for line in printed.splitlines()[1:-1]] == [
        "stale-claim",
        "failed",
        "interrupted",
        "cancelled",
        "waiting",
        "held",
        "running",
        "unverified",
    ]
    assert json.loads(printed) == json.loads(json.dumps(rows))
