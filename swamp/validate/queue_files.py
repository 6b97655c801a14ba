"""Queue item files (queue/ and done/): loading and validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from swamp import schemas
from swamp.errors import Problem
from swamp.items import BrokenItem, load_item
from swamp.loader import LoadError, load_file
from swamp.repo import Repository
from swamp.validate.references import input_problems


def item_problems(repo: Repository, path: Path) -> list[Problem]:
    """Everything wrong with one queue item file, against the repository."""
    rel = repo.rel(path)
    try:
        doc = load_file(path, rel)
    except LoadError as e:
        return [e.problem]
    if not isinstance(doc.data, dict):
        return [doc.problem((), "expected a mapping at the top")]
    out = schemas.schema_problems(doc, "queue-item")
    if out:
        return out
    # What the runner checks too: identity, names, times, file name, links.
    loaded = load_item(path, done=path.parent.name == "done")
    if isinstance(loaded, BrokenItem):
        p = loaded.problem
        out.append(Problem(rel, p.line, p.column, p.message))
    data = doc.data
    schema = None
    if data["kind"] == "workflow":
        wf = repo.workflows.get(data["workflow"])
        if wf is None:
            out.append(
                doc.problem(("workflow",), f"workflow: unknown workflow {data['workflow']!r}")
            )
        else:
            schema = wf.inputs
    else:
        model = repo.models.get(data["model"])
        if model is None:
            out.append(doc.problem(("model",), f"model: unknown model {data['model']!r}"))
        elif data["method"] not in model.methods:
            out.append(
                doc.problem(
                    ("method",),
                    f"method: model {model.name!r} has no method {data['method']!r}",
                )
            )
        else:
            schema = model.methods[data["method"]].inputs
    if schema is not None:
        out += input_problems(doc, ("inputs",), data["inputs"], schema)
    window = data.get("window")
    if window is not None and window not in repo.config.windows:
        out.append(doc.problem(("window",), f"window: unknown window {window!r}"))
    if rel.startswith("done/"):
        # done/ is history: a record of what ran, against the definitions of
        # its day. A definition renamed or removed since is worth a note, never
        # a failure (that would block validation forever).
        out = [
            dataclasses.replace(
                p, severity="warning", message=f"{p.message} (a finished item; kept as history)"
            )
            for p in out
        ]
    return out
