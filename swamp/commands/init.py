from __future__ import annotations

from pathlib import Path

from swamp import output
from swamp.errors import SwampError
from swamp.fsutil import atomic_write
from swamp.repo import CONFIG_FILE

SWAMP_YAML = """\
# swamp repository settings. Reference: the schema in swamp's schemas/swamp.schema.json.
version: 1
# Environment variables expressions may read as env.NAME.
env: []
# Environment variables expressions may read as secrets.NAME; always masked as ***.
secrets: []
defaults:
  concurrency: 4
# Execution windows for queued items (cron in the window's time zone).
windows:
  nightly:
    cron: "0 2 * * *"
    duration: 2h
    timezone: UTC
"""


def init(target: Path) -> int:
    target = target.resolve()
    config = target / CONFIG_FILE
    if config.exists():
        raise SwampError(f"{config} already exists; this is already a swamp repository")
    target.mkdir(parents=True, exist_ok=True)
    atomic_write(config, SWAMP_YAML)
    for folder in ("models", "workflows", "queue", "done"):
        (target / folder).mkdir(exist_ok=True)
        keep = target / folder / ".gitkeep"
        if not any((target / folder).iterdir()):
            keep.touch()
    output.out(f"initialised a swamp repository in {target}")
    output.out("next: add a model under models/ and run `swamp validate`")
    return 0
