"""A workflow's job graph as SVG, drawn on the server (no script, no CDN):
jobs in columns by depth, each box listing its steps with their state."""

from __future__ import annotations

from graphlib import TopologicalSorter
from html import escape

from swamp.definitions import Workflow
from swamp.engine.state import RunState

BOX_W, ROW_H, HEAD_H, GAP_X, GAP_Y, PAD = 220, 18, 24, 60, 24, 8


def _columns(wf: Workflow) -> dict[str, int]:
    depth: dict[str, int] = {}
    graph = {name: {d.name for d in job.depends_on} for name, job in wf.jobs.items()}
    for name in TopologicalSorter(graph).static_order():
        deps = graph.get(name, set())
        depth[name] = 1 + max((depth[d] for d in deps if d in depth), default=-1)
    return depth


def job_graph(wf: Workflow, state: RunState | None = None) -> str:
    columns = _columns(wf)
    placed: dict[str, tuple[int, int, int]] = {}  # job -> x, y, height
    next_y: dict[int, int] = {}
    for name, job in wf.jobs.items():
        col = columns.get(name, 0)
        height = HEAD_H + ROW_H * max(1, len(job.steps)) + PAD
        y = next_y.get(col, PAD)
        placed[name] = (PAD + col * (BOX_W + GAP_X), y, height)
        next_y[col] = y + height + GAP_Y
    width = PAD * 2 + (max(columns.values(), default=0) + 1) * (BOX_W + GAP_X) - GAP_X
    height = max(next_y.values(), default=PAD * 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="job graph of {escape(wf.name)}">'
    ]
    for name, job in wf.jobs.items():
        x, y, _ = placed[name]
        for dep in job.depends_on:
            if dep.name not in placed:
                continue
            dx, dy, _ = placed[dep.name]
            parts.append(
                f'<line class="edge" x1="{dx + BOX_W}" y1="{dy + HEAD_H // 2}" '
                f'x2="{x}" y2="{y + HEAD_H // 2}" />'
            )
    for name, job in wf.jobs.items():
        x, y, h = placed[name]
        js = state.jobs.get(name) if state else None
        jstate = js.state if js else "pending"
        title = name + (" (on hold)" if job.hold else "")
        parts.append(
            f'<g class="job state-{escape(jstate)}" data-job="{escape(name)}">'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{h}" rx="6" />'
            f'<text class="head" x="{x + PAD}" y="{y + 17}">{escape(title)}</text>'
            f'<text class="jstate" x="{x + BOX_W - PAD}" y="{y + 17}" text-anchor="end">'
            f"{escape(jstate)}</text>"
        )
        for i, step in enumerate(job.steps):
            ss = js.steps.get(step.name) if js else None
            sstate = ss.state if ss else "pending"
            sy = y + HEAD_H + ROW_H * i + 13
            parts.append(
                f'<text class="step state-{escape(sstate)}" data-step="{escape(name)}/'
                f'{escape(step.name)}" x="{x + PAD}" y="{sy}">● {escape(step.name)}'
                f'<tspan class="sstate"> {escape(sstate)}</tspan></text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
