"""flight_delay_scoring end to end through Airflow (``dag.test()``): next-day feeds, scoring with
the champion, publishing to PostgreSQL, monitoring, the alert asset event, the warehouse.

A real lake of 2013-02-25..27 (stage functions, no Airflow) and a champion trained on synthetic
features; the run of day 2013-02-27 scores 2013-02-28 and monitors 2013-02-27.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest

import models.flight_delay as fd
from pipelines import tables
from pipelines.dates import Interval
from pipelines.ops.airflow_runner import migrate_metadata_db, run_days
from pipelines.settings import get_settings
from pipelines.storage import lake
from tests.fixtures import real_lake
from tests.fixtures.postgres import APP_DSN, empty_app_schema
from tests.fixtures.synthetic_features import promote_synthetic_champion

pytestmark = pytest.mark.integration

DAG_ID = "flight_delay_scoring"
SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
ACTUALS = Interval.of("2013-02-25", "2013-02-28")
RUN_DAY = Interval.day("2013-02-27")
SCORED = date(2013, 2, 28)
SCHEMA = "dag_test"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real")
    real_lake.build(root / "lake", root / "landing", SQL_ROOT, ACTUALS)
    migrate_metadata_db()
    return root


@pytest.fixture
def env(built: Path, data_dir: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(built / "lake", data_dir / "lake")
    shutil.copytree(built / "landing", data_dir / "landing")
    empty_app_schema(SCHEMA)
    monkeypatch.setenv("NIGHTSHIFT_PUBLISH_DSN", APP_DSN)
    monkeypatch.setenv("NIGHTSHIFT_PUBLISH_SCHEMA", SCHEMA)
    monkeypatch.setenv("NIGHTSHIFT_REPORTS_ROOT", str(data_dir / "reports"))
    # The test lake begins with its actuals: the history before them is not a gap.
    monkeypatch.setenv("NIGHTSHIFT_HISTORY_START", str(ACTUALS.start))
    get_settings.cache_clear()
    return get_settings()


def _states(run_id: str) -> dict[str, tuple[str, int]]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.settings import Session
    from sqlalchemy import select

    with Session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)
        ).all()
        return {ti.task_id: (str(ti.state), ti.try_number) for ti in tis}


def _alert_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.settings import Session
    from sqlalchemy import select

    with Session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "models.flight_delay_alert")
        ).all()
        return [dict(e.extra or {}) for e in events]


def test_a_nightly_run_scores_publishes_and_monitors(env, tmp_path) -> None:
    promote_synthetic_champion(tmp_path, env.mlflow_tracking_uri)
    alerts_before = len(_alert_events())
    [run] = run_days(DAG_ID, RUN_DAY)
    states = _states(run.run_id)
    # Real February against a synthetic training profile: incidents open, so the run is marked.
    assert run.state == "failed" and run.alerted, states
    assert {t: s for t, (s, _) in states.items()} == {
        "extract_next_day": "success",
        "validate_next_day": "success",
        "wait_for_features": "success",
        "score_next_day": "success",
        "publish_predictions": "success",
        "monitor": "success",
        "notify_incidents": "success",
        "raise_alert": "failed",
        "request_retraining": "success",
        "refresh_warehouse": "success",
        "fail_run_if_a_task_failed": "skipped",  # no pipeline task failed
    }
    assert states["raise_alert"][1] == 1  # an open incident is not retried
    assert "open incident(s)" in run.reasons["raise_alert"]
    predictions = lake.read_partition(env.lake_root, *tables.PREDICTIONS.address, SCORED)
    assert predictions.num_rows > 0
    assert set(predictions.column(lake.RUN_ID_COLUMN).to_pylist()) == {run.run_id}
    assert set(predictions.column("model_version").to_pylist()) == {"1"}
    with psycopg.connect(APP_DSN) as conn:
        published = conn.execute(
            f"SELECT count(*), count(DISTINCT pipeline_run_id), min(pipeline_run_id) "
            f"FROM {SCHEMA}.flight_delay_predictions WHERE flight_date = %s",
            (SCORED,),
        ).fetchone()
    assert published == (predictions.num_rows, 1, run.run_id)
    events = _alert_events()[alerts_before:]
    assert len(events) == 1 and events[0]["as_of"] == str(SCORED)
    assert events[0]["incidents"] and all("/" in i["incident_id"] for i in events[0]["incidents"])
    report = env.reports_root / "monitoring" / "latest.html"
    assert report.exists() and "flight_delay monitoring, 2013-02-27" in report.read_text()
    with duckdb.connect(str(env.warehouse_path), read_only=True) as con:
        top = con.execute(
            "select flight_date, count(*) from marts.route_risk_daily group by all"
        ).fetchall()
        assert top == [(SCORED, len({(r["origin"], r["dest"]) for r in predictions.to_pylist()}))]
        drifted = con.execute("select count(*) from monitoring.feature_drift_daily").fetchone()[0]
        assert drifted == len(fd.FEATURES)
        incidents = con.execute(
            "select count(*), count(*) filter (where status = 'open') from monitoring.alerts"
        ).fetchone()
        assert incidents[0] >= 1 and incidents[0] == incidents[1]


def test_a_clean_run_looks_different_from_one_with_an_open_incident(
    env, tmp_path, monkeypatch
) -> None:
    promote_synthetic_champion(tmp_path, env.mlflow_tracking_uri)
    # The same run with thresholds nothing crosses: nothing opens, nothing is marked.
    for name, value in {
        "MIN_ROC_AUC": "0",
        "MAX_BRIER": "1",
        "MAX_PSI": "1000",
        "MAX_MISSING_INCREASE": "1",
        "DAILY_RANGE_MARGIN": "1e12",
        "MAX_STEP_RATIO": "1e12",
        "MIN_SCORED_SHARE": "0",
    }.items():
        monkeypatch.setenv(f"NIGHTSHIFT_MONITOR_{name}", value)
    get_settings.cache_clear()
    alerts_before = len(_alert_events())
    [run] = run_days(DAG_ID, RUN_DAY)
    states = _states(run.run_id)
    assert run.state == "success" and not run.alerted, states
    assert states["raise_alert"][0] == "skipped"
    assert states["request_retraining"][0] == "skipped"
    assert len(_alert_events()) == alerts_before
    assert (
        "OK: no incident is open" in (env.reports_root / "monitoring" / "latest.html").read_text()
    )


def test_without_a_champion_scoring_fails_at_once_and_monitoring_still_runs(env) -> None:
    [run] = run_days(DAG_ID, RUN_DAY)
    states = _states(run.run_id)
    assert run.state == "failed"
    assert states["score_next_day"] == ("failed", 1)  # NoChampionError: no retry
    assert states["publish_predictions"][0] == "upstream_failed"
    assert states["monitor"][0] == "success"  # all_done: the day's drift has no champion either
    assert states["refresh_warehouse"][0] == "success"
    assert states["fail_run_if_a_task_failed"][0] == "failed"  # so the run shows red
    assert not lake.has_partition(env.lake_root, *tables.PREDICTIONS.address, SCORED)
