"""The monitoring report: one page per day with its charts, copied to latest.html atomically."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipelines import tables
from pipelines.monitoring.monitor import write_rows
from pipelines.monitoring.report import write_report
from pipelines.settings import Settings

DAYS = [date(2013, 3, 1), date(2013, 3, 2)]


def _performance(day: date, roc_auc: float) -> dict:
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


def _drift(feature: str, psi: float) -> dict:
    return {
        "model_version": "1",
        "feature": feature,
        "psi": psi,
        "reference_missing_share": 0.0,
        "current_missing_share": 0.0,
        "day_psi": psi,
        "day_missing_share": 0.0,
        "drifted": psi > 0.25,
    }


def test_a_day_gets_its_page_with_charts_and_tables_and_latest_is_a_copy(
    tmp_path: Path, sql_root: Path
) -> None:
    lake_root, reports = tmp_path / "lake", tmp_path / "reports"
    for day, auc in zip(DAYS, (0.71, 0.55), strict=True):
        write_rows(lake_root, tables.MODEL_PERFORMANCE_DAILY, day, [_performance(day, auc)], "m")
        write_rows(lake_root, tables.FEATURE_DRIFT_DAILY, day, [_drift("wx_temp_f", 0.4)], "m")
        write_rows(lake_root, tables.CALIBRATION_BY_BAND_DAILY, day, [], "m")
    alert = "2013-03-02: realized ROC-AUC 0.550 below 0.6"

    page_path = write_report(
        lake_root, sql_root, reports, DAYS[1], [alert], Settings().thresholds()
    )

    assert page_path == reports / "monitoring" / "2013-03-02.html"
    page = page_path.read_text()
    assert page.count("<img src='data:image/png;base64,") == 2  # performance and drift charts
    assert alert in page
    # The history table holds every day up to the report's; the drift chart the day's features.
    assert "2013-03-01" in page and "0.5500" in page
    assert (reports / "monitoring" / "latest.html").read_text() == page
    assert not list((reports / "monitoring").glob("*.tmp"))


def test_a_day_without_monitoring_rows_still_gets_a_page_saying_so(
    tmp_path: Path, sql_root: Path
) -> None:
    page_path = write_report(
        tmp_path / "lake", sql_root, tmp_path / "reports", DAYS[0], [], Settings().thresholds()
    )
    page = page_path.read_text()
    assert "No threshold crossed." in page and "<img" not in page
