"""The monitoring report: one static HTML page per monitored day, charts embedded.

What an on-call engineer opens instead of reading tables: realized ROC-AUC and Brier score over
time against their thresholds, predicted against actual delay rate, calibration by risk band, and
the drift (PSI) of every feature on the day. Written to ``<reports>/monitoring/<day>.html`` and
copied to ``latest.html``, each atomically; the task log prints the path.
"""

from __future__ import annotations

import base64
import html
import io
import os
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines import tables
from pipelines.settings import DuckDBResources, Thresholds
from pipelines.storage import lake
from pipelines.storage.sql import load_sql, macro_connection

# Which rows of a monitoring table the report reads: the day alone, or every day up to it.
_ONE_DAY, _UP_TO_DAY = "monitoring_table_day", "monitoring_table_history"


def _history(
    lake_root: Path,
    sql_root: Path,
    table: tables.LakeTable,
    day: date,
    one_day: bool,
    resources: DuckDBResources | None,
) -> pd.DataFrame:
    files = lake.table_files(lake_root, *table.address)
    if not files:
        return pd.DataFrame()
    with macro_connection(sql_root, resources) as con:
        # The files are a registered table's (not caller text); both values are bound.
        query = load_sql(sql_root, "reports", _ONE_DAY if one_day else _UP_TO_DAY)
        return con.execute(query, {"files": files, "day": day}).df()


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _charts(
    perf: pd.DataFrame, drift: pd.DataFrame, thresholds: Thresholds
) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = []
    if not perf.empty:
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        ax1.plot(perf["dt"], perf["roc_auc"], marker="o", label="realized ROC-AUC")
        ax1.axhline(thresholds.min_roc_auc, ls="--", c="red", lw=1, label="alert below")
        ax1b = ax1.twinx()
        ax1b.plot(perf["dt"], perf["brier"], marker="s", c="tab:orange", label="Brier score")
        ax1b.axhline(thresholds.max_brier, ls=":", c="tab:orange", lw=1)
        ax1.set_ylabel("ROC-AUC")
        ax1b.set_ylabel("Brier score")
        ax1.legend(loc="lower left", fontsize="small")
        ax1.set_title("Realized performance of the predictions, per day")
        ax2.plot(perf["dt"], perf["predicted_delay_rate"], marker="o", label="predicted")
        ax2.plot(perf["dt"], perf["actual_delay_rate"], marker="s", label="actual")
        ax2.set_ylabel("delay rate")
        ax2.legend(loc="upper left", fontsize="small")
        ax2.set_title("Predicted against actual delay rate")
        fig.autofmt_xdate()
        charts.append(("Performance over time", _png(fig)))
    if not drift.empty:
        top = drift.sort_values("psi").tail(20)
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(top) + 1.5))
        colors = ["tab:red" if p > thresholds.max_psi else "tab:blue" for p in top["psi"]]
        ax.barh(top["feature"], top["psi"], color=colors)
        ax.axvline(
            thresholds.max_psi, ls="--", c="red", lw=1, label=f"alert above {thresholds.max_psi}"
        )
        ax.set_xlabel("population stability index against the model's training data")
        ax.legend(loc="lower right", fontsize="small")
        ax.set_title("Feature drift on the day (largest 20)")
        charts.append(("Feature drift", _png(fig)))
    return charts


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    if frame.empty:
        return "<p>none</p>"
    return frame[columns].to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)


def write_report(
    lake_root: Path,
    sql_root: Path,
    reports_root: Path,
    day: date,
    alerts: list[str],
    thresholds: Thresholds,
    *,
    resources: DuckDBResources | None = None,
) -> Path:
    """Render the report of ``day``; return its path (``latest.html`` is a copy). Its queries
    run on DuckDB held to ``resources`` (None: DuckDB's defaults)."""

    def history_of(table: tables.LakeTable, one_day: bool) -> pd.DataFrame:
        return _history(lake_root, sql_root, table, day, one_day, resources)

    perf = history_of(tables.MODEL_PERFORMANCE_DAILY, one_day=False)
    calibration = history_of(tables.CALIBRATION_BY_BAND_DAILY, one_day=True)
    drift = history_of(tables.FEATURE_DRIFT_DAILY, one_day=True)
    charts = _charts(perf, drift, thresholds)
    status = (
        "<p class='alert'>" + "<br>".join(html.escape(a) for a in alerts) + "</p>"
        if alerts
        else "<p class='ok'>No threshold crossed.</p>"
    )
    body = [
        f"<h1>flight_delay monitoring, {day}</h1>",
        status,
        *(f"<h2>{html.escape(t)}</h2><img src='data:image/png;base64,{b}'>" for t, b in charts),
        "<h2>Calibration by risk band on the day</h2>",
        _table(
            calibration, ["risk_band", "flights_labelled", "mean_probability", "actual_delay_rate"]
        ),
        "<h2>Realized performance, every monitored day</h2>",
        _table(
            perf,
            [
                "dt",
                "model_version",
                "flights_labelled",
                "roc_auc",
                "brier",
                "predicted_delay_rate",
                "actual_delay_rate",
            ],
        ),
        "<p>Thresholds: ROC-AUC below "
        f"{thresholds.min_roc_auc}, Brier above {thresholds.max_brier}, PSI above "
        f"{thresholds.max_psi} (with at least {thresholds.min_labelled_flights} labelled flights)."
        " Tables: monitoring.model_performance_daily, monitoring.calibration_by_band_daily, "
        "monitoring.feature_drift_daily.</p>",
    ]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>flight_delay monitoring {day}</title><style>"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        ".alert{color:#a00;font-weight:bold}.ok{color:#070}"
        "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}"
        "</style></head><body>" + "\n".join(body) + "</body></html>"
    )
    folder = Path(reports_root) / "monitoring"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day.isoformat()}.html"
    for target in (path, folder / "latest.html"):
        tmp = target.with_suffix(".html.tmp")
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)
    return path
