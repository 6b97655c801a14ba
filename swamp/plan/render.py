"""A Plan shown three ways: text for a terminal, Markdown for a pull request, JSON for scripts."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from swamp import secrets
from swamp.plan.compute import DefinitionChange, Plan, flow, known_during_run
from swamp.repo import CONFIG_FILE


class _Dumper(yaml.SafeDumper):
    """Scripts read as scripts: multi-line strings as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(value: Any) -> str:
    text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return secrets.mask_text(text.rstrip("\n"))


def _inputs(inputs: Mapping[str, Any]) -> str:
    if not inputs:
        return "(none)"
    return ", ".join(f"{k}={v if isinstance(v, str) else flow(v)}" for k, v in inputs.items())


def summary_line(plan: Plan) -> str:
    counts = {c: sum(1 for i in plan.items if i.change == c) for c in ("added", "changed")}
    removed = sum(1 for i in plan.items if i.change == "removed")
    parts = [f"{counts['added']} added", f"{counts['changed']} changed", f"{removed} removed"]
    status = "INVALID" if plan.invalid else "valid"
    return f"{', '.join(parts)} against {plan.base} ({plan.base_commit[:10]}): {status}"


def as_text(plan: Plan) -> str:
    lines = [f"plan: {summary_line(plan)}"]
    for p in plan.problems:
        lines.append(f"  problem: {p}")
    for it in plan.items:
        lines.append("")
        lines.append(f"{it.change} {it.kind} {it.target} ({it.id}) in {it.file}")
        lines.append(f"  inputs: {_inputs(it.inputs)}")
        if it.requested_by:
            lines.append(f"  requested by {it.requested_by}" + (f": {it.note}" if it.note else ""))
        for k, v in it.timing.items():
            lines.append(f"  {k}: {v}")
        for p in it.problems:
            lines.append(f"  problem: {p}")
        if it.stale:
            lines.append("  STALE: pinned definitions changed: " + ", ".join(it.stale))
        for job, prompt in it.releases:
            lines.append(f"  RELEASES the hold before job {job}: {prompt}")
        for job, prompt in it.holds:
            lines.append(f"  hold before job {job}: {prompt}")
        for s in it.steps:
            lines.append(
                f"  {s.kind} {s.job}/{s.step}: {s.target}" + (f" [{s.note}]" if s.note else "")
            )
            later = {k: v for k, v in (s.inputs or {}).items() if known_during_run(v)}
            if later:
                lines.append(f"      (inputs known during the run: {_inputs(later)})")
            if s.arguments:
                for line in _dump(s.arguments).splitlines():
                    lines.append(f"      {line}")
    if plan.definitions:
        lines.append("")
        lines.append("definitions changed:")
        for d in plan.definitions:
            lines.append(f"  {d.change} {d.file}" + _affects(d))
    return "\n".join(lines)


def _affects(d: DefinitionChange) -> str:
    if d.file == CONFIG_FILE:
        return " (settings for every item: windows, env, secrets, approval)"
    parts = []
    if d.stale:
        parts.append("makes stale (re-queue after merge): " + ", ".join(d.stale))
    if d.affects:
        parts.append("used by, still runnable (same parsed content): " + ", ".join(d.affects))
    return (" — " + "; ".join(parts)) if parts else ""


def as_markdown(plan: Plan) -> str:
    icon = "❌" if plan.invalid else "✅"
    lines = [f"## swamp plan {icon}", "", summary_line(plan), ""]
    if plan.problems:
        lines += ["### Problems in the definitions", ""]
        lines += [f"- `{_md(p)}`" for p in plan.problems]
        lines.append("")
    if not plan.items:
        lines += ["No queue items are added, changed or removed.", ""]
    for it in plan.items:
        mark = {"added": "➕", "changed": "✏️", "removed": "🗑️"}.get(it.change, "")
        lines.append(f"### {mark} {it.change}: {it.kind} `{it.target}` (`{it.id}`)")
        lines.append("")
        lines.append(f"- file: `{it.file}`")
        lines.append(f"- inputs: `{_md(_inputs(it.inputs))}`")
        if it.requested_by:
            lines.append(f"- requested by **{_md(it.requested_by)}**")
        if it.note:
            lines.append(f"- note: {_md(it.note)}")
        for k, v in it.timing.items():
            lines.append(f"- {k}: `{v}`")
        for p in it.problems:
            lines.append(f"- ❌ `{_md(p)}`")
        if it.stale:
            lines.append(
                "- ⚠️ **stale**: changed since it was queued: "
                + ", ".join(f"`{f}`" for f in it.stale)
            )
        for job, prompt in it.releases:
            lines.append(f"- ▶️ **releases** the hold before job `{job}`: {_md(prompt)}")
        for job, prompt in it.holds:
            lines.append(f"- ⏸️ hold before job `{job}`: {_md(prompt)}")
        lines.append("")
        if it.steps:
            lines += ["| job | step | runs | arguments |", "|---|---|---|---|"]
            for s in it.steps:
                args = _md(_dump(s.arguments)).replace("\n", "<br>") if s.arguments else ""
                what = f"{s.kind}: `{s.target}`" if s.kind != "step" else f"`{s.target}`"
                if s.note:
                    what += f" ({_md(s.note)})"
                lines.append(f"| `{s.job}` | `{s.step}` | {what} | <code>{args}</code> |")
            lines.append("")
        if it.mermaid:
            lines += ["```mermaid", it.mermaid, "```", ""]
    if plan.definitions:
        lines += ["### Definitions changed", ""]
        for d in plan.definitions:
            lines.append(f"- {d.change} `{d.file}`{_md(_affects(d))}")
        lines.append("")
    return secrets.mask_text("\n".join(lines))


def _md(text: str) -> str:
    return re.sub(r"([|<>])", r"\\\1", text)


def as_dict(plan: Plan) -> dict[str, Any]:
    data = asdict(plan)
    data["invalid"] = plan.invalid
    return secrets.mask(data)  # type: ignore[no-any-return]


def write_step_summary(markdown: str) -> Path | None:
    """Append the plan to the GitHub Actions job summary, when there is one."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as f:
        f.write(markdown + "\n")
    return path
