"""What queue items need of the definitions, kept between commands.

`swamp queue list` says whether each item is stale: whether a definition it
was reviewed against changed. That needs each definition's digest and the
files each target depends on, not the validation of every model and
workflow (jsonschema, the expression checks, the model types). Those are
computed once by a full `load_repository` and kept in a JSON file under
.swamp/ (this machine's state, never committed), keyed by the digest of the
bytes of swamp.yaml and every definition file, and by swamp's version. Any
change to a file, or an entry that cannot be read back, means a full load.

The cache serves listing only: an item is executed after the gate
(swamp/queue/gate.py) has loaded and validated everything again, so a
damaged or forged entry can misreport a state, never run anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swamp import __version__, secrets
from swamp.config import Config
from swamp.errors import SwampError
from swamp.fsutil import atomic_write
from swamp.repo import CONFIG_FILE, Repository, definition_files, find_root

CACHE = ".swamp/cache/pins.json"
# Bumped when the entry's shape changes; an entry of another format is a miss.
FORMAT = 1


@dataclass(frozen=True)
class PinIndex:
    """The digests and dependencies of a validated repository (a `Pinned`)."""

    root: Path
    config: Config
    digests: Mapping[str, str]
    # "workflow:NAME" and "model:NAME" -> the definition files it depends on.
    depends: Mapping[str, tuple[str, ...]]

    def target_files(self, kind: str, target: str) -> list[str]:
        """As Repository.target_files: an unknown model is refused, an unknown
        workflow depends on nothing."""
        if kind == "workflow":
            return list(self.depends.get(f"workflow:{target}", ()))
        name = target.partition(".")[0]
        files = self.depends.get(f"model:{name}")
        if files is None:
            raise SwampError(f"unknown model {name!r}")
        return list(files)


def index_of(repo: Repository) -> PinIndex:
    depends = {f"workflow:{name}": tuple(repo.workflow_files(name)) for name in repo.workflows}
    depends |= {f"model:{name}": (model.file,) for name, model in repo.models.items()}
    return PinIndex(repo.root, repo.config, dict(repo.digests), depends)


def load_index(root: Path | None = None) -> PinIndex:
    """The repository's PinIndex: from the cache when no file changed, else
    from a full load (which then refreshes the cache)."""
    root = find_root(root) if root is None else root.resolve()
    key = content_key(root)
    index = _read(root, key)
    if index is None:
        # Only on a miss: validation imports jsonschema, jinja2 and the model types.
        from swamp.validate import load_repository

        index = index_of(load_repository(root))
        if content_key(root) == key:  # not what a file changed meanwhile would be
            _write(root, key, index)
        return index
    secrets.mask_configured(index.config)
    return index


def content_key(root: Path) -> str:
    """The digest of swamp's version and of every file validation reads."""
    h = hashlib.sha256(f"swamp {__version__}\n".encode())
    files = [root / CONFIG_FILE, *definition_files(root, "models")]
    files += definition_files(root, "workflows")
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            data = None  # a missing or unreadable file is part of the state too
        digest = "-" if data is None else hashlib.sha256(data).hexdigest()
        h.update(f"{path.relative_to(root).as_posix()}\0{digest}\n".encode())
    return h.hexdigest()


def _read(root: Path, key: str) -> PinIndex | None:
    try:
        entry = json.loads((root / CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        if entry["format"] != FORMAT or entry["key"] != key:
            return None
        digests = _strings(entry["digests"])
        depends = {k: _files(v) for k, v in _mapping(entry["depends"]).items()}
        return PinIndex(root, Config.from_data(entry["config"]), digests, depends)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # not what this code writes: a full load instead


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError("expected a mapping")
    return value


def _strings(value: Any) -> dict[str, str]:
    out = _mapping(value)
    if not all(isinstance(v, str) for v in out.values()):
        raise TypeError("expected a mapping of strings")
    return out


def _files(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a list of files")
    return tuple(value)


def _write(root: Path, key: str, index: PinIndex) -> None:
    entry = {
        "format": FORMAT,
        "key": key,
        "digests": dict(index.digests),
        "depends": {k: list(v) for k, v in index.depends.items()},
        "config": index.config.to_data(),
    }
    if (root / CACHE).parent.is_symlink() or (root / ".swamp").is_symlink():
        return  # never written through a link: it would land outside the repository
    # Not fsynced: a cache lost in a crash is only rebuilt.
    with contextlib.suppress(OSError):  # a read-only checkout lists without a cache
        atomic_write(root / CACHE, json.dumps(entry, sort_keys=True), fsync=False)
