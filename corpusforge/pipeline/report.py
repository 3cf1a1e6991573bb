"""The run summary: `report.json`, `report.html`, and the table printed at the end of a run."""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

from corpusforge.io import Manifest, read_json

if TYPE_CHECKING:
    from corpusforge.pipeline.dag import Plan
    from corpusforge.pipeline.runner import Runner


def build(runner: Runner, plan: Plan, started: float) -> dict[str, Any]:
    """Every needed stage's stats, read back from its manifest (so skipped stages appear too)."""
    stages = {}
    for stage_id in plan.order:
        manifest = Manifest.read(runner.fs, runner.layout.stage_dir(stage_id))
        stats = manifest.stats if manifest else {}
        stages[stage_id] = {
            "stage": runner.pipeline.stages[stage_id].config.stage,
            "status": "skipped" if stage_id in plan.done else "ran",
            "saved": stage_id in plan.materialized,
            "kind": manifest.kind if manifest else None,
            "fingerprint": plan.output_fp[stage_id],
            "shards": len(manifest.shards) if manifest else 0,
            **stats,
            "tasks": manifest.tasks if manifest else [],
        }
    return {
        "output": runner.output,
        "order": plan.order,
        "targets": plan.targets,
        "executor": type(runner.executor).__name__,
        "workers": runner.executor.workers,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "wall_s": round(time.time() - started, 3),
        "stages": stages,
    }


def _size(n: int) -> str:
    """Bytes in the largest unit that keeps the figure at 1 or more: a sample run's kilobytes do
    not all print as 0.0 MB."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def summary_text(report: dict[str, Any]) -> str:
    """The table printed at the end of a run: a row per stage, in plain aligned columns, the same
    on a terminal and in a log file."""
    header = ("stage", "status", "docs in", "docs out", "dropped", "errors", "bytes in", "bytes out", "seconds")
    rows = []
    for stage_id in report["order"]:
        s = report["stages"][stage_id]
        if "docs_in" not in s:
            rows.append((stage_id, s["status"], *[""] * 7))
            continue
        rows.append((
            stage_id,
            s["status"],
            f"{s['docs_in']:,}",
            f"{s['docs_out']:,}",
            f"{sum(s['dropped'].values()):,}",
            f"{sum(s['errors'].values()):,}",
            _size(s["bytes_in"]),
            _size(s["bytes_out"]),
            f"{s['wall_s']:.1f}",
        ))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells) -> str:
        # Names to the left, figures to the right.
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([f"corpusforge run: {report['output']}", line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def write_html(fs, output: str, report: dict[str, Any]) -> None:
    rows = []
    for stage_id in report["order"]:
        s = report["stages"][stage_id]
        dropped = ", ".join(f"{html.escape(k)}: {v:,}" for k, v in s.get("dropped", {}).items())
        errors = ", ".join(f"{html.escape(k)}: {v:,}" for k, v in s.get("errors", {}).items())
        rows.append(
            f"<tr><td>{html.escape(stage_id)}</td><td>{s['status']}</td><td>{s.get('docs_in', 0):,}</td>"
            f"<td>{s.get('docs_out', 0):,}</td><td>{dropped}</td><td>{errors}</td>"
            f"<td>{s.get('wall_s', 0):.1f}</td></tr>"
        )
    page = (
        "<!doctype html><meta charset='utf-8'><title>corpusforge report</title>"
        "<style>body{font-family:sans-serif}td,th{padding:4px 10px;border-bottom:1px solid #ddd}</style>"
        f"<h1>corpusforge run</h1><p>{html.escape(report['output'])} · {report['started']} · "
        f"{report['wall_s']}s · {report['executor']} × {report['workers']}</p>"
        "<table><tr><th>stage</th><th>status</th><th>docs in</th><th>docs out</th>"
        "<th>dropped by reason</th><th>bad records</th><th>seconds</th></tr>" + "".join(rows) + "</table>"
    )
    with fs.open(f"{output}/report.html", "w", encoding="utf-8") as f:
        f.write(page)


def load(fs, output: str) -> dict[str, Any] | None:
    return read_json(fs, f"{output}/report.json")

