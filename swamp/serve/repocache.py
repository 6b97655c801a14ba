"""The repository as the server sees it: loaded once, loaded again when a
definition file changes (a pull, an edit), never per request."""

from __future__ import annotations

import threading
from pathlib import Path

from swamp.repo import Repository, definition_files
from swamp.validate import load_repository

CONFIG = "swamp.yaml"


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    files = [root / CONFIG, *definition_files(root, "models"), *definition_files(root, "workflows")]
    marks = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        marks.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(marks)


class RepoCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._mark: tuple[tuple[str, int, int], ...] | None = None
        self._repo: Repository | None = None

    def get(self) -> Repository:
        mark = _fingerprint(self.root)
        with self._lock:
            if self._repo is None or mark != self._mark:
                self._repo = load_repository(self.root)
                self._mark = mark
            return self._repo
