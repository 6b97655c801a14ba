"""The web view in a real headless Chromium (Debian's, driven by
Playwright; no browser is downloaded): the queue, the runs with filters,
a run with its graph, masked outputs, a hold released with a token, and
step states that change live through the event stream."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from repo_helpers import GATED, make_repo, swamp, wait_for
from serve_helpers import AUTH, TOKEN, Running, running_server

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SWAMP_YAML = """\
version: 1
secrets: [SWAMP_TEST_SECRET]
serve:
  allowStart: [gated, leak, waits]
"""
LEAK = """\
name: leak
jobs:
  go:
    steps:
      - {name: say, model: sh, method: echo, inputs: {value: "${{ secrets.SWAMP_TEST_SECRET }}"}}
"""
WAITS = """\
name: waits
jobs:
  first:
    steps:
      - {name: wait, model: gate, method: wait}
  second:
    dependsOn: [first]
    steps:
      - {name: after, model: sh, method: mark, inputs: {name: after}}
"""
GATE = """\
name: gate
type: command/shell
methods:
  wait:
    arguments:
      run: while [ ! -e GO ]; do sleep 0.05; done
"""
SECRET = "web-secret-value-42"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SWAMP_TEST_SECRET", SECRET)
    root = make_repo(
        tmp_path_factory.mktemp("web") / "r",
        workflows={"gated": GATED, "leak": LEAK, "waits": WAITS},
        models={"gate": GATE},
        swamp_yaml=SWAMP_YAML,
    )
    swamp(root, "workflow", "queue", "gated", "--note", "ship the web view", "--by", "carol")
    with running_server(root) as running:
        yield running
    mp.undo()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), "Debian's chromium is needed (.ci/run installs it)"
    profile = tempfile.mkdtemp(prefix="swamp-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            bypass_csp=True,  # the page's own CSP forbids eval, which the test's waits use
        )
        # Waits are bounded, not timed: on a loaded 2-core machine the browser
        # and the server share the cores with the rest of the suite.
        context.set_default_timeout(90_000)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def start(url: str, name: str) -> str:
    r = httpx.post(f"{url}/api/v1/workflows/{name}/runs", json={}, headers=AUTH, timeout=30)
    assert r.status_code == 201, r.text
    run: str = r.json()["run"]
    return run


def state(url: str, run: str) -> str:
    value: str = httpx.get(f"{url}/api/v1/runs/{run}", timeout=30).json()["displayState"]
    return value


def shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def test_the_queue_page(served: Running, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(served.url + "/")
    assert page.url.endswith("/queue")
    table = page.locator("#queue").inner_text()
    assert "gated" in table
    assert "queued" in table
    assert "carol" in table
    assert "ship the web view" in table
    assert page.locator("script[src]").count() == 0  # nothing from elsewhere
    shot(page, tmp_path, "queue")
    page.close()


def test_the_runs_page_filters(served: Running, browser: Any, tmp_path: Path) -> None:
    held = start(served.url, "gated")
    wait_for(lambda: state(served.url, held) == "held", what="a held run")
    leak = start(served.url, "leak")
    wait_for(lambda: state(served.url, leak) == "succeeded", what="a finished run")
    page = browser.new_page()
    page.goto(served.url + "/runs")
    text = page.locator("#runs").inner_text()
    assert held in text
    assert leak in text
    page.select_option("select[name=state]", "held")
    page.click("button[type=submit]")
    page.wait_for_url("**/runs?state=held*")
    text = page.locator("#runs").inner_text()
    assert held in text
    assert leak not in text
    shot(page, tmp_path, "runs-held")
    page.goto(served.url + "/runs?since=nonsense")
    assert "--since 'nonsense'" in page.locator("main").inner_text()
    page.goto(served.url + f"/runs/{leak}")
    body = page.locator("main").inner_text()
    assert SECRET not in page.content()
    assert '"value": "***"' in body
    page.close()


def test_a_held_run_shows_its_graph_and_prompt_and_is_released_with_a_token(
    served: Running, browser: Any, tmp_path: Path
) -> None:
    run = start(served.url, "gated")
    wait_for(lambda: state(served.url, run) == "held", what="the hold")
    page = browser.new_page()
    page.goto(served.url + f"/runs/{run}")
    graph = page.locator("svg.graph")
    assert graph.count() == 1
    assert "build" in graph.text_content()
    assert "ship" in graph.text_content()
    assert page.locator("svg.graph line.edge").count() == 1
    hold = page.locator("[data-hold=ship]").inner_text()
    assert "ship it?" in hold
    shot(page, tmp_path, "run-held")
    page.fill("form.release input[name=token]", "not-the-token-at-all")
    page.click("form.release button")
    page.wait_for_function("document.querySelector('form.release .outcome').textContent !== ''")
    assert "bearer token" in page.locator("form.release .outcome").inner_text()
    assert state(served.url, run) == "held"
    page.fill("form.release input[name=token]", TOKEN)
    page.click("form.release button")
    wait_for(lambda: state(served.url, run) == "succeeded", what="the released run")
    page.wait_for_function("document.getElementById('run-state').textContent === 'succeeded'")
    assert "released by alice" in page.locator("#steps").inner_text()
    page.close()


def test_step_states_change_live(served: Running, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    run = start(served.url, "waits")
    wait_for(lambda: state(served.url, run) == "running", what="the run to start")
    page = browser.new_page()
    page.goto(served.url + f"/runs/{run}")
    assert "live" in page.locator("#live").inner_text()
    page.wait_for_function(
        "document.querySelector('[data-step=\"first/wait\"] .sstate').textContent.trim()"
        " === 'running'"
    )
    shot(page, tmp_path, "run-live")
    (served.server.cache.root / "GO").write_text("")
    # The page is not reloaded: the event stream moves the states on.
    page.wait_for_function(
        "document.querySelector('[data-step=\"second/after\"] .sstate').textContent.trim()"
        " === 'succeeded'"
    )
    page.wait_for_function("document.getElementById('run-state').textContent === 'succeeded'")
    # The run-state event arrives before the stream's end; the page says the
    # run is at rest only when the end arrives, so wait for that too.
    expect(page.locator("#live")).to_have_text("the run is at rest: succeeded", timeout=90_000)
    shot(page, tmp_path, "run-done")
    page.close()
