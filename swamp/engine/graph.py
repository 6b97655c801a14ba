"""A workflow's graph, as indented text or as a Mermaid diagram."""

from __future__ import annotations

import re

from swamp.definitions import Condition, Dependency, Step, Workflow


def _deps(deps: tuple[Dependency, ...]) -> str:
    if not deps:
        return ""
    parts = [
        d.name if d.condition == Condition.SUCCEEDED else f"{d.name} ({d.condition})" for d in deps
    ]
    return " after " + ", ".join(parts)


def _task(step: Step) -> str:
    if step.task is not None:
        return f"{step.task.type} {step.task.summary}".rstrip()
    return f"workflow {step.workflow}" if step.workflow else f"{step.model}.{step.method}"


def text(wf: Workflow) -> str:
    lines = [f"workflow {wf.name}" + (f": {wf.description}" if wf.description else "")]
    for job in wf.jobs.values():
        extra = []
        if job.hold:
            extra.append("on hold")
        if job.for_each:
            extra.append(
                f"for each item, {job.for_each.concurrency} at a time, "
                f"{job.for_each.tolerated_failures} failures tolerated"
            )
        note = f" [{'; '.join(extra)}]" if extra else ""
        lines.append(f"  job {job.name}{_deps(job.depends_on)}{note}")
        for s in job.prechecks:
            lines.append(f"    precheck {s.name}: {_task(s)}")
        if job.checks:
            for s in job.checks.steps:
                lines.append(f"    check {s.name} every {job.checks.interval:g}s: {_task(s)}")
        previous = None
        for s in job.steps:
            implicit = len(s.depends_on) == 1 and s.depends_on[0].name == previous
            after = "" if implicit or not s.depends_on else _deps(s.depends_on)
            lines.append(f"    step {s.name}: {_task(s)}{after}")
            previous = s.name
    return "\n".join(lines)


def _id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "__".join(parts))


def _label(text: str) -> str:
    return text.replace('"', "'")


def mermaid(wf: Workflow) -> str:
    """flowchart: a subgraph per job, an edge per dependency."""
    lines = ["flowchart TD"]
    for job in wf.jobs.values():
        title = job.name + (" (on hold)" if job.hold else "")
        lines.append(f'  subgraph {_id("job", job.name)}["{_label(title)}"]')
        lines.append("    direction TB")
        for s in (*job.prechecks, *job.steps):
            lines.append(f'    {_id(job.name, s.name)}["{_label(s.name + ": " + _task(s))}"]')
        lines.append("  end")
        if job.hold:
            hold = _id("hold", job.name)
            lines.append(f'  {hold}{{{{"hold: {_label(job.hold)[:60]}"}}}}')
            lines.append(f"  {hold} --> {_id('job', job.name)}")
        for s in job.steps:
            for d in s.depends_on:
                arrow = "-->" if d.condition == Condition.SUCCEEDED else f"-->|{d.condition}|"
                lines.append(f"  {_id(job.name, d.name)} {arrow} {_id(job.name, s.name)}")
    for job in wf.jobs.values():
        target = _id("hold", job.name) if job.hold else _id("job", job.name)
        for d in job.depends_on:
            arrow = "-->" if d.condition == Condition.SUCCEEDED else f"-->|{d.condition}|"
            lines.append(f"  {_id('job', d.name)} {arrow} {target}")
    return "\n".join(lines)
