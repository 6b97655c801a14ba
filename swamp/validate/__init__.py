"""Schema and semantic validation of a repository's files.

Never stops at the first problem: every problem becomes one Problem at the
offending node, and valid parts are still built so later checks can run.

`config`, `models` and `workflows` check one kind of file each; `references`
checks expressions and given inputs; `nesting` finds cycles (jobs, steps,
workflows calling workflows); `files` answers `swamp validate`.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from swamp import secrets
from swamp.errors import Problem
from swamp.repo import Contents, Repository, find_root, symlinked
from swamp.validate.common import Broken
from swamp.validate.config import load_config
from swamp.validate.models import load_models
from swamp.validate.nesting import check_nesting
from swamp.validate.workflows import check_workflow, load_workflows


def load_repository(root: Path | None = None) -> Repository:
    """Load and validate swamp.yaml, models/ and workflows/ (not the queue)."""
    contents = Contents(find_root(root) if root is None else root.resolve())
    # swamp.yaml first: every other file is checked against its settings.
    contents = replace(contents, config=load_config(contents))
    load_definitions(contents)
    repo = Repository(**{f.name: getattr(contents, f.name) for f in fields(Contents)})
    # An input may carry a secret too: masked before anything is printed.
    secrets.mask_configured(repo.config)
    return repo


def load_definitions(repo: Contents) -> None:
    """Read and check models/ and workflows/ into `repo` (swamp.yaml is read)."""
    # Content behind a link was never reviewed in the repository; results
    # written through one would land outside it.
    for rel in symlinked(repo.root, ("models", "workflows", "runs")):
        repo.problems.append(Problem(rel, 1, 1, "is a symbolic link; swamp never follows one"))
    broken = Broken()
    load_models(repo, broken)
    partial = load_workflows(repo, broken)
    for wf in repo.workflows.values():
        check_workflow(repo, repo.docs[wf.file], wf, broken)
    # Workflows with schema problems: the parts that are valid are still
    # checked, so one run reports every problem.
    for wf, unchecked in partial:
        check_workflow(repo, repo.docs[wf.file], wf, broken, unchecked)
    check_nesting(repo)
