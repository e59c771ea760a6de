"""The monitoring report: one static HTML page per monitored day, and an index of the days.

What an on-call engineer opens instead of reading tables. The first line is the verdict (OK,
DEGRADED or BROKEN) and why; then the open incidents, realized performance over time against its
thresholds, the drift of the features furthest from training over time, the distributions of the
drifted ones, calibration by risk band and performance by origin, carrier and hour, with links to
the Airflow run and the MLflow model version. Written to ``<reports>/monitoring/<day>.html``
(copied to ``latest.html``) with ``index.html``, each atomically; the task log prints the path.

Written by hand rather than with Evidently: Evidently 0.7 would add a web server, NLTK,
statsmodels, plotly and a telemetry client to the pinned environment, and its presets compare
whole datasets by one test per column, which is the single-test-for-every-feature view this
report exists to replace (see :mod:`pipelines.monitoring.watchlist`).
"""

from __future__ import annotations

import html
import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from models.flight_delay import schema as fd
from pipelines import tables
from pipelines.monitoring import charts
from pipelines.settings import DuckDBResources, Thresholds
from pipelines.storage import lake
from pipelines.storage.sql import load_sql, macro_connection

# Which rows of a monitoring table the report reads: the day alone, or every day up to it.
_ONE_DAY, _UP_TO_DAY = "monitoring_table_day", "monitoring_table_history"
_STYLE = (
    "body{font-family:sans-serif;max-width:64em;margin:1.5em auto;padding:0 1em;color:#222}"
    ".verdict{font-size:1.4em;font-weight:bold;padding:.4em .6em;border-radius:4px}"
    ".ok{background:#e3f4e3;color:#064}.degraded{background:#fff1d6;color:#840}"
    ".broken{background:#fbe0e0;color:#a00}nav a{margin-right:1em}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;text-align:right}"
    "th{background:#eee}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    # The last column of a table is text (a finding, a summary, a note): left, and room to read.
    "td:last-child{text-align:left;min-width:12em}"
)


@dataclass(frozen=True)
class ReportLinks:
    """Where the report links to: the Airflow run that monitored the day, and MLflow."""

    airflow_url: str
    mlflow_url: str
    dag_id: str
    run_id: str

    @property
    def airflow_run(self) -> str:
        return f"{self.airflow_url}/dags/{self.dag_id}/runs/{quote(self.run_id, safe='')}"

    def model_version(self, model: str, version: str) -> str:
        return f"{self.mlflow_url}/#/models/{model}/versions/{quote(version, safe='')}"


def _read(
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


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    if frame.empty:
        return "<p>none</p>"
    shown = frame[[c for c in columns if c in frame.columns]]
    return shown.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0, na_rep="")


def _img(title: str, encoded: str | None) -> str:
    if encoded is None:
        return ""
    alt = html.escape(title)
    return f"<h3>{alt}</h3><img alt='{alt}' src='data:image/png;base64,{encoded}'>"


def _verdict(monitored: Any) -> str:
    verdict = getattr(monitored, "verdict", "ok")
    reasons = getattr(monitored, "reasons", [])
    why = (
        "; ".join(html.escape(r) for r in reasons)
        if reasons
        else "no incident is open: every threshold holds"
    )
    return f"<p class='verdict {verdict}'>{verdict.upper()}: {why}</p>"


def _day(value: Any) -> date | None:
    """A date from whatever DuckDB handed pandas (date, Timestamp, NaT or None)."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def _open_on(alerts: pd.DataFrame, day: date) -> list[dict[str, Any]]:
    """The incidents open at the end of ``day``."""
    found = []
    for r in [] if alerts.empty else alerts.to_dict("records"):
        opened, resolved = _day(r["opened_on"]), _day(r["resolved_on"])
        if opened is not None and opened <= day and (resolved is None or resolved > day):
            found.append(r)
    return found


def _incidents(alerts: pd.DataFrame, day: date) -> str:
    """Incidents open on the day or resolved in the week before it."""
    if alerts.empty:
        return "<p>No incident has been opened up to this day.</p>"
    shown = []
    for r in alerts.to_dict("records"):
        resolved = _day(r["resolved_on"])
        if resolved is not None and resolved < day - timedelta(days=7):
            continue
        status = "open" if resolved is None or resolved > day else f"resolved {resolved}"
        shown.append({**r, "status": status})
    columns = ["opened_on", "kind", "subject", "severity", "status", "last_seen_on", "days_seen"]
    columns += ["remedy", "retrain_requested_on", "summary"]
    return _table(pd.DataFrame(shown), columns)


_BAND_ORDER = {band: i for i, (_, band) in enumerate(fd.RISK_BANDS)}


def _slice_table(slices: pd.DataFrame, name: str) -> str:
    """One slice of the day, in its natural order (bands low to high, hours 0-23, names A-Z)."""
    part = slices[slices["slice"] == name].copy() if not slices.empty else slices
    if not part.empty:
        order = {"risk_band": lambda v: _BAND_ORDER.get(v, 99), "hour": int}.get(name, str)
        part = part.assign(_order=part["value"].map(order)).sort_values("_order")
    columns = ["value", "flights_labelled", "mean_probability", "actual_delay_rate", "brier"]
    return _table(part, [*columns, "roc_auc"])


def _drift_table(drift: pd.DataFrame, thresholds: Thresholds) -> str:
    """Every feature of the day, drifted first; a PSI only where it decides (flight-level
    features), and why each feature is measured as it is, folded away."""
    if drift.empty:
        return "<p>No drift was measured (no champion, or its run has no training profile).</p>"
    shown = charts.ranked(drift, thresholds.max_psi).copy()
    shown.loc[shown["measure"] != "rows", "psi"] = None
    shown["finding"] = shown["finding"].fillna("")
    columns = ["feature", "feed", "measure", "psi", "day_mean", "reference_low", "reference_high"]
    notes = _table(shown.sort_values("feature"), ["feature", "measure", "note"])
    return (
        _table(shown, [*columns, "missing_share", "finding"])
        + "<details><summary>Why each feature is measured as it is</summary>"
        + notes
        + "</details>"
    )


def _nav(folder: Path, day: date) -> str:
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    links = ["<a href='index.html'>all days</a>"]
    if (folder / f"{before}.html").exists():
        links.insert(0, f"<a href='{before}.html'>&larr; {before}</a>")
    if (folder / f"{after}.html").exists():
        links.append(f"<a href='{after}.html'>{after} &rarr;</a>")
    return "<nav>" + "".join(links) + "</nav>"


def _links(perf_day: pd.DataFrame, links: ReportLinks | None) -> str:
    if links is None:
        return ""
    parts = [
        f"<a href='{html.escape(links.airflow_run)}'>Airflow run {html.escape(links.run_id)}</a>"
    ]
    if not perf_day.empty:
        for version in str(perf_day["model_version"].iloc[0]).split(","):
            url = links.model_version("flight_delay", version)
            label = f"MLflow model flight_delay v{html.escape(version)}"
            parts.append(f"<a href='{html.escape(url)}'>{label}</a>")
    return "<p>" + " · ".join(parts) + "</p>"


def write_report(
    lake_root: Path,
    sql_root: Path,
    reports_root: Path,
    day: date,
    monitored: Any,
    thresholds: Thresholds,
    links: ReportLinks | None = None,
    *,
    resources: DuckDBResources | None = None,
) -> Path:
    """Render the page of ``day`` (``monitored``: its ``MonitorSummary``, for the verdict) and the
    index; return the page's path. Queries run on DuckDB held to ``resources``."""

    def read(table: tables.LakeTable, one_day: bool) -> pd.DataFrame:
        return _read(lake_root, sql_root, table, day, one_day, resources)

    perf = read(tables.MODEL_PERFORMANCE_DAILY, one_day=False)
    drift_history = read(tables.FEATURE_DRIFT_DAILY, one_day=False)
    drift = (
        drift_history[drift_history["dt"] == pd.Timestamp(day)]
        if not drift_history.empty
        else drift_history
    )
    slices = read(tables.PERFORMANCE_BY_SLICE_DAILY, one_day=True)
    alerts = read(tables.ALERTS, one_day=False)
    perf_day = perf[perf["dt"] == pd.Timestamp(day)] if not perf.empty else perf
    folder = Path(reports_root) / "monitoring"
    folder.mkdir(parents=True, exist_ok=True)
    top = charts.top_features(drift, thresholds.max_psi)
    drifted = drift[drift["drifted"]] if not drift.empty else drift
    body = [
        _nav(folder, day),
        f"<h1>flight_delay monitoring, {day}</h1>",
        _verdict(monitored),
        _links(perf_day, links),
        "<h2>Incidents</h2>",
        _incidents(alerts, day),
        "<h2>Performance over time</h2>",
        _img(
            "Realized ROC-AUC and Brier score, predicted and actual delay rate",
            charts.performance_chart(perf, thresholds),
        ),
        "<h2>Feature drift</h2>",
        _img(
            f"The {len(top)} features furthest from training, over time",
            charts.drift_over_time_chart(drift_history, top, thresholds),
        ),
        *(
            _img(f"Drifted: {r['feature']}", charts.distribution_chart(r))
            for _, r in drifted.iterrows()
        ),
        _drift_table(drift, thresholds),
        "<h2>Calibration and slices on the day</h2>",
        *(
            f"<h3>By {name.replace('_', ' ')}</h3>" + _slice_table(slices, name)
            for name in ("risk_band", "origin", "carrier", "hour")
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
        f"{thresholds.max_psi} (with at least {thresholds.min_labelled_flights} labelled flights); "
        f"an incident resolves after {thresholds.resolve_after_days} quiet days. Tables: "
        "monitoring.alerts, monitoring.findings_daily, monitoring.model_performance_daily, "
        "monitoring.performance_by_slice_daily, monitoring.feature_drift_daily.</p>",
    ]
    page = _page(f"flight_delay monitoring {day}", body)
    path = folder / f"{day.isoformat()}.html"
    _write(path, page)
    days = _page_days(folder)
    if days[-1] == day:  # re-rendering an earlier day leaves latest.html the newest day's
        _write(folder / "latest.html", page)
    # The index shows every day as the tables have it now, not as of the day just rendered.
    every_perf = _read(
        lake_root, sql_root, tables.MODEL_PERFORMANCE_DAILY, days[-1], False, resources
    )
    every_alert = _read(lake_root, sql_root, tables.ALERTS, days[-1], False, resources)
    _write(folder / "index.html", _index(days, every_perf, every_alert))
    return path


def _label(kind: str, subject: str) -> str:
    """``weather feed (drift)``, ``realized performance (performance)``."""
    feed = " feed" if kind in ("drift", "missing_feature") else ""
    return f"{subject}{feed} ({kind.replace('_', ' ')})"


def _page_days(folder: Path) -> list[date]:
    """The days that have a page (other files in the folder are left alone)."""
    days = []
    for path in folder.glob("*.html"):
        try:
            days.append(date.fromisoformat(path.stem))
        except ValueError:
            continue
    return sorted(days)


def _index(days: list[date], perf: pd.DataFrame, alerts: pd.DataFrame) -> str:
    rows = []
    for day in reversed(days):
        name = day.isoformat()
        open_ = _open_on(alerts, day)
        critical = any(r["severity"] == "critical" for r in open_)
        verdict = "ok" if not open_ else "broken" if critical else "degraded"
        p = perf[perf["dt"] == pd.Timestamp(day)] if not perf.empty else perf
        auc = "" if p.empty or pd.isna(p["roc_auc"].iloc[0]) else f"{p['roc_auc'].iloc[0]:.3f}"
        brier = "" if p.empty or pd.isna(p["brier"].iloc[0]) else f"{p['brier'].iloc[0]:.4f}"
        subjects = ", ".join(sorted(_label(r["kind"], r["subject"]) for r in open_))
        rows.append(
            f"<tr><td><a href='{name}.html'>{name}</a></td>"
            f"<td class='{verdict}'>{verdict.upper()}</td>"
            f"<td>{auc}</td><td>{brier}</td><td>{html.escape(subjects)}</td></tr>"
        )
    table = (
        "<table><tr><th>day</th><th>verdict</th><th>ROC-AUC</th><th>Brier</th>"
        "<th>open incidents</th></tr>" + "".join(rows) + "</table>"
    )
    return _page("flight_delay monitoring: every day", ["<h1>flight_delay monitoring</h1>", table])


def _page(title: str, body: list[str]) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(b for b in body if b)
        + "</body></html>"
    )


def _write(target: Path, text: str) -> None:
    # A name of its own per writer: two runs rendering at once never replace each other's file.
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
