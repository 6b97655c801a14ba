"""The package's layers, as tools/import_graph.py sees them: no import cycle,
and the engine never reaches into the queue."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import import_graph  # noqa: E402  (a dev tool, found through the path set above)


def test_swamp_has_no_import_cycle_nor_forbidden_edge() -> None:
    edges = import_graph.graph()
    assert "swamp.engine.runner" in edges  # the graph sees the package
    assert import_graph.problems(edges) == []


def test_the_tool_reports_a_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "swamp"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from swamp import b\n")
    # A function-level import counts: it hides a cycle from Python, not from a reader.
    (pkg / "b.py").write_text("def f():\n    from swamp.a import x\n")
    (pkg / "engine" / "run.py").write_text("import swamp.queue.items\n")
    (pkg / "queue").mkdir()
    (pkg / "queue" / "items.py").write_text("")
    assert import_graph.problems(import_graph.graph(tmp_path)) == [
        "import cycle: swamp.a <-> swamp.b",
        "swamp.engine.run imports swamp.queue.items: "
        "the engine reports outcomes; the queue layer records them",
    ]


def test_the_tool_reports_a_cycle_between_packages(tmp_path: Path) -> None:
    """No module imports itself back, but the queue package needs validation,
    which needs the queue package: a newcomer cannot read them in order."""
    pkg = tmp_path / "swamp"
    for sub in ("queue", "validate"):
        (pkg / sub).mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "queue" / "items.py").write_text("")
    (pkg / "queue" / "executor.py").write_text("import swamp.validate.files\n")
    (pkg / "validate" / "files.py").write_text("import swamp.queue.items\n")
    assert import_graph.problems(import_graph.graph(tmp_path)) == [
        "package cycle: swamp.queue <-> swamp.validate"
    ]


def test_the_command_prints_the_graph_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert import_graph.main([]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "swamp.cli -> " in out
    assert import_graph.main(["--packages"]) == 0
    packages = capsys.readouterr().out
    assert "swamp.engine -> " in packages
    assert "swamp.engine.runner" not in packages


def test_a_function_level_import_says_why(tmp_path: Path) -> None:
    pkg = tmp_path / "swamp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "def f():\n"
        "    import json\n"  # no reason given
        "\n"
        "def g():\n"
        "    # start-up time: httpx loads only when used\n"
        "    import os\n"
        "\n"
        "    import httpx\n"  # the same block, after a blank line
        "\n"
        "def h():\n"
        "    import csv  # start-up time: only h needs it\n"
    )
    assert import_graph.unexplained_lazy_imports(tmp_path) == ["swamp/a.py:2: import json"]


def test_the_map_in_docs_names_every_package_and_top_level_module() -> None:
    """docs/architecture.md is a newcomer's map: a package or module it does
    not name is one they find only by reading the tree."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "swamp"
    missing = [
        f"swamp/{p.name}/"
        for p in sorted(package.iterdir())
        if (p / "__init__.py").is_file() and f"`swamp/{p.name}/`" not in text
    ] + [
        f"swamp/{m.name}"
        for m in sorted(package.glob("*.py"))
        if m.stem not in ("__init__", "__main__")
        and f"`swamp/{m.name}`" not in text
        and f"`{m.name}`" not in text
    ]
    assert missing == []
