"""A swamp repository on disk: find it, load its definitions, index them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from swamp.definitions import Config, Model, Workflow
from swamp.errors import InvalidFiles, Problem, SwampError
from swamp.loader import Document, LoadError, load_file

CONFIG_FILE = "swamp.yaml"
DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding swamp.yaml."""
    env = os.environ.get("SWAMP_REPO")
    here = Path(env) if env and start is None else (start or Path.cwd())
    here = here.resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise SwampError(
        f"no {CONFIG_FILE} found in {here} or above; run `swamp init` to make this a "
        "swamp repository, or pass --repo PATH"
    )


def digest_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def definition_files(root: Path, folder: str) -> list[Path]:
    base = root / folder
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.suffix in DEFINITION_SUFFIXES and p.is_file())


@dataclass
class Repository:
    root: Path
    config: Config = field(default_factory=Config)
    models: dict[str, Model] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    docs: dict[str, Document] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def load_doc(self, path: Path) -> Document | None:
        """Load one file, recording its digest; a load error becomes a problem."""
        rel = self.rel(path)
        try:
            raw = path.read_bytes()
        except OSError as e:
            self.problems.append(Problem(rel, 1, 1, f"cannot read file: {e.strerror}"))
            return None
        self.digests[rel] = digest_bytes(raw)
        try:
            doc = load_file(path, rel)
        except LoadError as e:
            self.problems.append(e.problem)
            return None
        self.docs[rel] = doc
        return doc

    def model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise SwampError(
                f"unknown model {name!r}{_known(self.models)}{self._broken('models/')}"
            ) from None

    def workflow(self, name: str) -> Workflow:
        try:
            return self.workflows[name]
        except KeyError:
            raise SwampError(
                f"unknown workflow {name!r}{_known(self.workflows)}{self._broken('workflows/')}"
            ) from None

    def _broken(self, folder: str) -> str:
        """A hint when the name may be defined by a file that did not load."""
        files = sorted({p.file for p in self.problems if p.file.startswith(folder)})
        if not files:
            return ""
        return f"; {', '.join(files)} could not be loaded (see `swamp validate`)"

    def require_valid(self, files: Iterable[str] | None = None) -> None:
        """Refuse to act while `files` (default: all definitions) have problems."""
        wanted = None if files is None else {CONFIG_FILE, *files}
        bad = [p for p in self.problems if wanted is None or p.file in wanted]
        if bad:
            raise InvalidFiles(bad)

    def workflow_files(self, name: str, seen: set[str] | None = None) -> list[str]:
        """Every definition file a workflow depends on: itself, nested workflows,
        the models its steps call."""
        seen = set() if seen is None else seen
        if name in seen or name not in self.workflows:
            return []
        seen.add(name)
        wf = self.workflows[name]
        files = [wf.file]
        for job in wf.jobs.values():
            for step in (*job.prechecks, *(job.checks.steps if job.checks else ()), *job.steps):
                if step.workflow:
                    files += self.workflow_files(step.workflow, seen)
                elif step.model in self.models:
                    files.append(self.models[step.model].file)
        return sorted(set(files))


def _known(names: Iterable[str]) -> str:
    names = sorted(names)
    return f" (known: {', '.join(names)})" if names else ""


def load_repository(root: Path | None = None) -> Repository:
    """Load and validate swamp.yaml, models/ and workflows/ (not the queue)."""
    from swamp import validate

    repo = Repository(find_root(root) if root is None else root.resolve())
    validate.load_definitions(repo)
    return repo
