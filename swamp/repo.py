"""A swamp repository on disk: find it, load its definitions, index them."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from swamp.config import Config
from swamp.errors import InvalidFiles, Problem, SwampError

if TYPE_CHECKING:  # start-up: `queue list` builds no definition (swamp/pins.py)
    from swamp.definitions import Model, Workflow
    from swamp.loader import Document

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


def parsed_digest(data: object) -> str:
    """The digest of a loaded value: canonical JSON of it."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return digest_bytes(text.encode("utf-8"))


def definition_files(root: Path, folder: str) -> list[Path]:
    """The definition files of a folder. A symbolic link (the folder, a
    sub-folder or a file) is never followed: its content was not reviewed in
    the repository; `validate` reports it."""
    base = root / folder
    if base.is_symlink() or not base.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(base):  # os.walk does not follow links
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not (here / d).is_symlink())
        for name in filenames:
            p = here / name
            if p.suffix in DEFINITION_SUFFIXES and not p.is_symlink() and p.is_file():
                out.append(p)
    return sorted(out)


def symlinked(root: Path, folders: Iterable[str]) -> list[str]:
    """Symbolic links in `folders` (or the folders themselves), relative to root."""
    found = []
    for folder in folders:
        base = root / folder
        if base.is_symlink():
            found.append(folder)
            continue
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            for name in (*dirnames, *filenames):
                if (Path(dirpath) / name).is_symlink():
                    found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(found)


class Pinned(Protocol):
    """What queue items need of a repository to say their state: settings,
    each definition's digest, and the files each target depends on. A
    Repository is one; so is the cached index that `queue list` reads
    (swamp/pins.py), which spares it validating every definition."""

    @property
    def root(self) -> Path: ...

    @property
    def config(self) -> Config: ...

    @property
    def digests(self) -> Mapping[str, str]: ...

    def target_files(self, kind: str, target: str) -> list[str]: ...


@dataclass(frozen=True)
class Contents:
    """What a repository's files hold: settings, models and workflows, the
    documents they were read from with their digests, and every problem found.

    Validation (swamp.validate) fills its collections as it reads each file;
    only once all are read and checked does it become a Repository."""

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


@dataclass(frozen=True)
class Repository(Contents):
    """A repository's contents once read and checked, and what the rest of
    swamp asks of them (built only by swamp.validate.load_repository)."""

    def model(self, name: str) -> Model:
        if name in self.models:
            return self.models[name]
        self._refuse_broken("models", name)
        raise SwampError(f"unknown model {name!r}{_known(self.models)}{self._broken('models')}")

    def workflow(self, name: str) -> Workflow:
        if name in self.workflows:
            return self.workflows[name]
        self._refuse_broken("workflows", name)
        raise SwampError(
            f"unknown workflow {name!r}{_known(self.workflows)}{self._broken('workflows')}"
        )

    def _refuse_broken(self, folder: str, name: str) -> None:
        """A definition whose file has problems is not loaded: show them, not "unknown"."""
        files = {
            f
            for f, doc in self.docs.items()
            if f.startswith(folder + "/")
            and isinstance(doc.data, dict)
            and doc.data.get("name") == name
        }
        bad = [p for p in self.problems if p.file in files]
        if bad:
            raise InvalidFiles(bad)

    def _broken(self, folder: str) -> str:
        """A hint that the name may be defined in a file that failed to load."""
        files = sorted({p.file for p in self.problems if p.file.startswith(folder + "/")})
        if not files:
            return ""
        return f"; {', '.join(files)} could not be loaded (see `swamp validate`)"

    def require_valid(self, files: Iterable[str] | None = None) -> None:
        """Refuse to act while `files` (default: all definitions) have problems."""
        wanted = None if files is None else {CONFIG_FILE, *files}
        bad = [p for p in self.problems if wanted is None or p.file in wanted]
        if bad:
            raise InvalidFiles(bad)

    def target_files(self, kind: str, target: str) -> list[str]:
        """The definition files an item's target depends on (what its pin covers);
        an unknown model is refused, an unknown workflow depends on nothing."""
        if kind == "workflow":
            return self.workflow_files(target)
        return [self.model(target.partition(".")[0]).file]

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
