"""What ``benchmarks/bench.py`` writes: results.json, a Markdown table, a log-log chart."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

# Stages whose seconds add up to the pipeline's path from the feed files to the scores partition,
# the path the pandas reference takes (without validation: the second ratio).
SCORING_PATH = ("extract_feeds", "validate_feeds", "score")
SCORING_PATH_UNVALIDATED = ("extract_feeds", "score")
# The nightly data path of a day's flights: the stages the scale targets are set on.
DATA_PATH = ("extract", "validate", "features", "score")


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    import duckdb
    import pyarrow

    pages = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
    }


def _cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def comparison_cell(compared: Any) -> str:
    """ "equal" or what differs, from a pandas_reference comparison."""
    if not isinstance(compared, dict):
        return str(compared or "-")
    if compared["only_reference"] or compared["only_pipeline"] or compared["columns"]:
        parts = [f"{column}: {rows} rows" for column, rows in compared["columns"].items()]
        if compared["only_reference"]:
            parts.append(f"{compared['only_reference']} keys only in pandas")
        if compared["only_pipeline"]:
            parts.append(f"{compared['only_pipeline']} keys only in the pipeline")
        return "differ (" + ", ".join(parts) + ")"
    if "max_abs_difference" in compared:
        return f"equal (max abs difference {compared['max_abs_difference']:.1e})"
    return f"equal ({compared['columns_compared']} columns)"


def scoring_path_seconds(
    rows: list[dict[str, Any]], scale: int, validated: bool = True
) -> float | None:
    """Seconds of the pipeline's stages from the feed files to the scores (None: one failed)."""
    return path_seconds(rows, scale, SCORING_PATH if validated else SCORING_PATH_UNVALIDATED)


def path_seconds(rows: list[dict[str, Any]], scale: int, stages: tuple[str, ...]) -> float | None:
    """Seconds of ``stages`` at ``scale`` added up (None: one of them failed or did not run)."""
    found = {r["stage"]: r for r in rows if r["scale"] == scale and r["stage"] in stages}
    if len(found) < len(stages) or any(r["status"] != "ok" for r in found.values()):
        return None
    return sum(r["seconds"] for r in found.values())


def data_path_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Per scale, the data path's seconds and rows a second; with a 1x run in the results, the
    rows a second net of it too (a run's fixed cost, mostly finding and loading the model, spread
    over more rows as the day grows)."""
    flights = {r["scale"]: r["flights"] for r in rows if r.get("flights")}
    seconds = {s: path_seconds(rows, s, DATA_PATH) for s in sorted(flights)}
    fixed = seconds.get(1)
    lines = [
        f"The data path ({' + '.join(DATA_PATH)}) of a day:",
        "",
        "| scale | flights/day | seconds | rows/s | rows/s net of the 1x run's seconds |",
        "|---:|---:|---:|---:|---:|",
    ]
    for scale, total in seconds.items():
        if total is None:
            continue
        n = flights[scale]
        net = None
        if fixed is not None and scale > 1 and total > fixed:
            net = round((n - flights[1]) / (total - fixed))
        lines.append(
            f"| {scale:,}x | {n:,} | {_cell(total)} | {_cell(round(n / total), 0)} | "
            f"{_cell(net, 0)} |"
        )
    return lines


def _damaged_line(row: dict[str, Any]) -> str:
    """What validation made of the damaged day of one scale."""
    d = row["detail"]
    checks = ", ".join(f"{name} ({count:,})" for name, count in d["failed_checks"].items())
    return (
        f"damaged, {row['scale']:,}x: {d['damaged_rows']} bad clock times and {d['damaged_rows']} "
        f"flights delivered twice among {row['rows']:,}; blocked by {checks}; "
        f"{d['quarantined_rows']:,} rows quarantined ({d['offending_rows']:,} offending); the "
        f"published day {'unchanged' if d['published_unchanged'] else '**changed**'}."
    )


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"Day {results['parameters']['day']}, {results['parameters']['history_days']} history "
        f"days in the lake; {machine['cpus']} CPUs, {machine['memory_gib']} GiB RAM, "
        f"Python {machine['python']}, DuckDB {machine['duckdb']}, pyarrow {machine['pyarrow']}. "
        "Seconds: the stage's call alone; peak RSS: its process (with interpreter and imports).",
        "",
        "| scale | flights/day | stage | status | seconds | rows/s | peak RSS (MiB) |",
        "|---:|---:|---|---|---:|---:|---:|",
    ]
    for r in results["stages"]:
        status = r["status"] if r["status"] == "ok" else f"**{r['status']}**"
        if r.get("reused"):
            status = "reused"  # generated by an earlier run with the same stamp: its figures
        lines.append(
            f"| {r['scale']:,}x | {_cell(r['flights'])} | {r['stage']} | {status} | "
            f"{_cell(r.get('seconds'))} | {_cell(r.get('rows_per_second'), 0)} | "
            f"{_cell(r.get('peak_rss_mib'), 0)} |"
        )
    lines += [
        "",
        "generate: rows are every flight written, the day's landing files and its history in the "
        "lake.",
        *(_damaged_line(r) for r in results["stages"] if r["stage"] == "damaged" and "detail" in r),
        "",
        *data_path_lines(results["stages"]),
        "",
        "pandas reference (read the feeds and history, features in pandas, the same model) against "
        f"the pipeline's {' + '.join(SCORING_PATH)}:",
        "",
        "| scale | pandas s | peak RSS (MiB) | pipeline s | ratio | ratio unvalidated "
        "| features | probabilities |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results["reference"]:
        if r["status"] != "ok":
            lines.append(f"| {r['scale']:,}x | **{r['status']}**: {r.get('error', '')} |||||||")
            continue
        lines.append(
            f"| {r['scale']:,}x | {_cell(r['seconds'])} | {_cell(r.get('peak_rss_mib'), 0)} | "
            f"{_cell(r.get('pipeline_seconds'))} | {_cell(r.get('speed_ratio'), 2)} | "
            f"{_cell(r.get('speed_ratio_unvalidated'), 2)} | "
            f"{comparison_cell(r.get('features_compared'))} | "
            f"{comparison_cell(r.get('predictions_compared'))} |"
        )
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    """Seconds and peak RSS of each stage against the day's flights, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [*results["stages"], *({**r, "stage": "pandas reference"} for r in results["reference"])]
    rows = [r for r in rows if r.get("flights")]  # a scale whose data could not be generated
    figure, (seconds, memory) = plt.subplots(1, 2, figsize=(13, 5.5))
    for stage in dict.fromkeys(r["stage"] for r in rows):
        done = sorted(
            (r for r in rows if r["stage"] == stage and r["status"] == "ok"), key=_flights
        )
        if not done:
            continue
        flights = [r["flights"] for r in done]
        (line,) = seconds.plot(flights, [max(r["seconds"], 1e-3) for r in done], "o-", label=stage)
        memory.plot(flights, [r["peak_rss_mib"] for r in done], "o-", color=line.get_color())
        for r in rows:
            if r["stage"] == stage and r["status"] in ("failed", "timeout"):
                seconds.plot(r["flights"], r["process_seconds"], "x", color=line.get_color(), ms=10)
    for axis, label in ((seconds, "seconds (x: failed or timed out)"), (memory, "peak RSS (MiB)")):
        axis.set(xscale="log", yscale="log", xlabel="flights in the day", ylabel=label)
        axis.grid(True, which="both", alpha=0.3)
    seconds.legend(fontsize=8)
    figure.suptitle("Nightshift stages: seconds and peak memory against the flights of the day")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _flights(row: dict[str, Any]) -> int:
    return row["flights"] or 1


def write(results: dict[str, Any], out: Path) -> str:
    """results.json, results.md and results.png under ``out``; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    table = markdown(results)
    (out / "results.md").write_text(table)
    if results["stages"]:
        chart(results, out / "results.png")
    return table
