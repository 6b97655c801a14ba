"""Which items a command means: `--all`, `--workflows`, `--methods`,
`--workflow NAME`, `--method NAME` or `--item ID`, and `--shard i/N`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swamp import items, paths
from swamp.errors import SwampError, UsageError
from swamp.items import BrokenItem, Item


@dataclass(frozen=True)
class Selector:
    all: bool = False
    workflows: bool = False
    methods: bool = False
    workflow: str | None = None
    method: str | None = None
    item: str | None = None

    def check(self) -> None:
        chosen = [
            self.all,
            self.workflows,
            self.methods,
            self.workflow is not None,
            self.method is not None,
            self.item is not None,
        ]
        if sum(chosen) != 1:
            raise UsageError(
                "say which items: exactly one of --all, --workflows, --methods, "
                "--workflow NAME, --method NAME, --item ID"
            )

    @property
    def explicit(self) -> bool:
        return self.item is not None

    def matches(self, item: Item) -> bool:
        if self.all:
            return True
        if self.workflows:
            return item.kind == "workflow"
        if self.methods:
            return item.kind == "method"
        if self.workflow is not None:
            return item.kind == "workflow" and item.target == self.workflow
        if self.method is not None:
            if item.kind != "method":
                return False
            if "." in self.method:
                return item.target == self.method
            return bool(item.request.fields.get("method") == self.method)
        return self.item in (item.id, item.path.stem)


@dataclass(frozen=True)
class Shard:
    """--shard i/N: the items whose id, as a number, is i-1 modulo N."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        i, sep, n = text.partition("/")
        if not (sep and i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
            raise UsageError(f"--shard {text!r}: expected i/N with 1 <= i <= N, such as 2/4")
        return cls(int(i), int(n))

    def holds(self, item: Item) -> bool:
        try:
            number = int(item.id, 16)
        except ValueError:
            number = sum(item.id.encode())
        return number % self.count == self.index - 1


def select(
    root: Path, selector: Selector, shard: Shard | None = None
) -> tuple[list[Item], list[BrokenItem]]:
    """Matching items in file order, and files that are not valid items."""
    selector.check()
    chosen: list[Item] = []
    broken: list[BrokenItem] = []
    for entry in items.in_review_order(items.iter_items(root)):
        if isinstance(entry, BrokenItem):
            broken.append(entry)
        elif selector.matches(entry) and (shard is None or shard.holds(entry)):
            chosen.append(entry)
    if selector.item is not None and not chosen:
        raise SwampError(
            f"no queued item '{paths.shown(selector.item, 60)}' (see `swamp queue list`)"
        )
    return chosen, broken
