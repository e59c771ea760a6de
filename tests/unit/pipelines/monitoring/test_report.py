"""The monitoring report: a verdict first, complete legends, a page per day, an index, links."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from pipelines import tables
from pipelines.monitoring import charts
from pipelines.monitoring.monitor import write_rows
from pipelines.monitoring.report import ReportLinks, write_report
from pipelines.settings import Settings

DAYS = [date(2013, 3, 1), date(2013, 3, 2)]
LIMITS = Settings().thresholds()
LINKS = ReportLinks("http://af:8080", "http://ml:5000", "flight_delay_scoring", "scheduled__2013")


def _performance(roc_auc: float) -> dict:
    return {
        "model_name": "flight_delay",
        "model_version": "1",
        "flights_scored": 900,
        "flights_labelled": 880,
        "roc_auc": roc_auc,
        "pr_auc": 0.4,
        "brier": 0.16,
        "log_loss": 0.5,
        "predicted_delay_rate": 0.2,
        "actual_delay_rate": 0.22,
        "in_sample": False,
    }


def _drift(feature: str, psi: float, drifted: bool) -> dict:
    return {
        "model_version": "1",
        "feature": feature,
        "feed": "schedule",
        "measure": "rows",
        "psi": psi,
        "missing_share": 0.0,
        "reference_missing_share": 0.0,
        "drifted": drifted,
        "finding": "drifted" if drifted else None,
        "distribution": '{"bins": ["a", "b", "other", "missing"], '
        '"reference": [0.5, 0.5, 0, 0], "current": [0.1, 0.9, 0, 0]}',
    }


def _incident(day: date) -> dict:
    return {
        "incident_id": f"{day}/performance/realized performance",
        "kind": "performance",
        "subject": "realized performance",
        "severity": "warning",
        "status": "open",
        "opened_on": day,
        "last_seen_on": day,
        "days_seen": 1,
        "remedy": "retrain",
        "summary": f"{day}: realized ROC-AUC 0.550 below 0.6",
        "evidence": "{}",
    }


def _lake(lake_root: Path) -> None:
    for day, auc in zip(DAYS, (0.71, 0.55), strict=True):
        write_rows(lake_root, tables.MODEL_PERFORMANCE_DAILY, day, [_performance(auc)], "m")
        drift = [_drift("carrier", 0.4, day == DAYS[1]), _drift("origin", 0.01, False)]
        write_rows(lake_root, tables.FEATURE_DRIFT_DAILY, day, drift, "m")
    write_rows(lake_root, tables.ALERTS, DAYS[1], [_incident(DAYS[1])], "m")


def test_a_day_opens_with_its_verdict_and_links_to_its_run_model_and_neighbours(
    tmp_path: Path, sql_root: Path
) -> None:
    lake_root, reports = tmp_path / "lake", tmp_path / "reports"
    _lake(lake_root)
    clean = SimpleNamespace(verdict="ok", reasons=[])
    write_report(lake_root, sql_root, reports, DAYS[0], clean, LIMITS, LINKS)
    degraded = SimpleNamespace(verdict="degraded", reasons=["performance of the model: ROC-AUC"])

    page_path = write_report(lake_root, sql_root, reports, DAYS[1], degraded, LIMITS, LINKS)

    assert page_path == reports / "monitoring" / "2013-03-02.html"
    page = page_path.read_text()
    body = page.split("<body>", 1)[1]
    first = body.split("</h1>", 1)[1].lstrip()
    assert first.startswith("<p class='verdict degraded'>DEGRADED: performance of the model")
    assert "http://af:8080/dags/flight_delay_scoring/runs/scheduled__2013" in page
    assert "http://ml:5000/#/models/flight_delay/versions/1" in page
    assert "href='2013-03-01.html'" in page and "href='index.html'" in page
    assert "<td>realized performance</td>" in page  # the incident table
    # Performance over time, drift over time, and the drifted feature's two distributions.
    assert page.count("<img ") == 3 and "Drifted: carrier" in page
    assert (reports / "monitoring" / "latest.html").read_text() == page
    index = (reports / "monitoring" / "index.html").read_text()
    assert index.index("2013-03-02.html") < index.index("2013-03-01.html")  # newest first
    assert "DEGRADED" in index and "OK" in index
    assert not [p for p in (reports / "monitoring").iterdir() if p.name.endswith(".tmp")]


def test_the_performance_chart_names_every_line_and_threshold_in_its_legend() -> None:
    perf = pd.DataFrame([{**_performance(0.7), "dt": d} for d in DAYS])
    figure = charts.performance_figure(perf, LIMITS)
    labels = {
        t.get_text() for ax in figure.axes if ax.get_legend() for t in ax.get_legend().get_texts()
    }
    assert {
        "ROC-AUC",
        f"ROC-AUC alert below {LIMITS.min_roc_auc}",
        "Brier score (right axis)",
        f"Brier alert above {LIMITS.max_brier}",
        "predicted delay rate",
        "actual delay rate",
    } <= labels


def test_a_day_without_monitoring_rows_still_gets_a_page_saying_so(
    tmp_path: Path, sql_root: Path
) -> None:
    clean = SimpleNamespace(verdict="ok", reasons=[])
    page_path = write_report(
        tmp_path / "lake", sql_root, tmp_path / "reports", DAYS[0], clean, LIMITS
    )
    page = page_path.read_text()
    assert "OK: no incident is open" in page and "<img" not in page


def test_re_rendering_an_earlier_day_keeps_the_index_and_latest_as_they_are(
    tmp_path: Path, sql_root: Path
) -> None:
    lake_root, reports = tmp_path / "lake", tmp_path / "reports"
    _lake(lake_root)
    degraded = SimpleNamespace(verdict="degraded", reasons=["ROC-AUC"])
    write_report(
        lake_root, sql_root, reports, DAYS[0], SimpleNamespace(verdict="ok", reasons=[]), LIMITS
    )
    newest = write_report(lake_root, sql_root, reports, DAYS[1], degraded, LIMITS).read_text()
    index = (reports / "monitoring" / "index.html").read_text()
    (reports / "monitoring" / "notes-for-oncall.html").write_text("not a day")

    write_report(
        lake_root, sql_root, reports, DAYS[0], SimpleNamespace(verdict="ok", reasons=[]), LIMITS
    )

    assert (reports / "monitoring" / "latest.html").read_text() == newest
    assert (reports / "monitoring" / "index.html").read_text() == index  # 03-02 still DEGRADED
