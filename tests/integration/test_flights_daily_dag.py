"""flights_daily end to end through Airflow: ``dag.test()`` per day on a SQLite metadata DB.

Each test gets its own landing zone, lake and warehouse (the ``data_dir`` fixture); the metadata DB
is migrated once for the module. A run at logical date D+1 processes day D.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from pipelines.dates import Interval
from pipelines.ingest.sources.files import generate_landing, landing_file
from pipelines.ingest.sources.nycflights import day_of
from pipelines.ingest.validate import DataValidationError, validate_and_publish
from pipelines.ops.airflow_runner import DayRun, migrate_metadata_db, run_days
from pipelines.settings import get_settings
from pipelines.storage import lake

pytestmark = pytest.mark.integration

DAG_ID = "flights_daily"
JAN_1, JAN_2, JAN_3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
FLIGHTS_PER_DAY = {JAN_1: 842, JAN_2: 943}


@pytest.fixture(scope="module")
def metadata_db() -> None:
    """Migrate the Airflow metadata DB (SQLite under the session's AIRFLOW_HOME) once."""
    migrate_metadata_db()


@pytest.fixture
def lake_env(metadata_db: None, data_dir):
    """The test's settings (lake, landing, warehouse under ``data_dir``), read by the tasks."""
    return get_settings()


def _by_day(runs: list[DayRun]) -> dict[str, DayRun]:
    return {r.day: r for r in runs}


def _rows(root, layer: str, table: str, day: date) -> pa.Table:
    return lake.read_partition(root, layer, table, day)


def _run_ids(table: pa.Table) -> set[str]:
    return set(table.column(lake.RUN_ID_COLUMN).to_pylist())


def _task_states(run_id: str) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.settings import Session
    from sqlalchemy import select

    with Session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)
        ).all()
        return {ti.task_id: str(ti.state) for ti in tis}


def _damage_flights(landing_root, day: date) -> None:
    """Rewrite the day's landing file: distance -5 in rows 0-2, no carrier in rows 3-4."""
    data = day_of("flights", day)
    row = pa.array(range(data.num_rows))
    distance = data.column("distance")
    carrier = data.column("carrier")
    data = data.set_column(
        data.column_names.index("distance"),
        "distance",
        pc.if_else(pc.less(row, 3), pa.scalar(-5.0, distance.type), distance),
    )
    data = data.set_column(
        data.column_names.index("carrier"),
        "carrier",
        pc.if_else(
            pc.and_(pc.greater_equal(row, 3), pc.less(row, 5)),
            pa.scalar(None, carrier.type),
            carrier,
        ),
    )
    pacsv.write_csv(data, landing_file(landing_root, "flights", day))


def test_two_days_run_publish_and_rerun_without_duplicates(lake_env) -> None:
    settings = lake_env
    generate_landing(settings.landing_root, Interval.of(JAN_1, JAN_3))

    runs = _by_day(run_days(DAG_ID, Interval.of(JAN_1, JAN_3)))

    assert sorted(runs) == ["2013-01-01", "2013-01-02"]
    for day, run in runs.items():
        assert run.state == "success", f"{day}: {run}"
        assert run.failed_tasks == []
    root = settings.lake_root
    assert lake.list_partitions(root, "raw", "flights") == [JAN_1, JAN_2]
    assert lake.list_partitions(root, "features", "flight_features") == [JAN_1, JAN_2]
    for day, expected in FLIGHTS_PER_DAY.items():
        run_id = runs[day.isoformat()].run_id
        raw = _rows(root, "raw", "flights", day)
        features = _rows(root, "features", "flight_features", day)
        assert raw.num_rows == expected, day
        assert features.num_rows == expected, day
        # Lineage: every row names the Airflow run that wrote it.
        assert _run_ids(raw) == {run_id}, day
        assert _run_ids(features) == {run_id}, day

        results = _rows(root, "quality", "validation_results", day)
        assert results.num_rows > 0, day
        assert {"flights", "weather"} <= set(results.column("table_name").to_pylist())
        critical = results.filter(pc.equal(results.column("severity"), "critical"))
        assert critical.num_rows > 0
        failed = critical.filter(pc.invert(critical.column("success")))
        assert failed.num_rows == 0, failed.to_pylist()

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        count = con.execute("select count(*) from features.flight_features").fetchone()[0]
    assert count == sum(FLIGHTS_PER_DAY.values()) == 1785

    # Rerun day 2: every task replaces its partitions, so no row is duplicated.
    (rerun,) = run_days(DAG_ID, Interval.day(JAN_2))
    assert rerun.state == "success", rerun
    assert rerun.run_id != runs["2013-01-02"].run_id
    raw = _rows(root, "raw", "flights", JAN_2)
    features = _rows(root, "features", "flight_features", JAN_2)
    assert raw.num_rows == features.num_rows == 943
    assert _run_ids(raw) == _run_ids(features) == {rerun.run_id}
    assert _rows(root, "raw", "flights", JAN_1).num_rows == 842
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from features.flight_features").fetchone()[0] == 1785
        assert con.execute("select count(*) from raw.flights").fetchone()[0] == 1785


def test_damaged_day_is_blocked_and_earlier_data_untouched(lake_env) -> None:
    settings = lake_env
    root = settings.lake_root
    generate_landing(settings.landing_root, Interval.of(JAN_1, "2013-01-04"))
    good = _by_day(run_days(DAG_ID, Interval.of(JAN_1, JAN_3)))
    assert [r.state for r in good.values()] == ["success", "success"], good
    first_good_run_id = good["2013-01-02"].run_id

    _damage_flights(settings.landing_root, JAN_2)
    _damage_flights(settings.landing_root, JAN_3)
    runs = _by_day(run_days(DAG_ID, Interval.of(JAN_2, "2013-01-04")))

    assert sorted(runs) == ["2013-01-02", "2013-01-03"]
    for day, run in runs.items():
        assert run.state == "failed", f"{day}: {run}"
        assert "validate_and_publish" in run.failed_tasks, f"{day}: {run}"
        states = _task_states(run.run_id)
        assert states["extract"] == "success", f"{day}: {states}"
        assert states["validate_and_publish"] == "failed", f"{day}: {states}"
        for task_id in ("build_features", "refresh_warehouse"):
            assert states[task_id] != "success", f"{day}: {states}"

    # The blocked rerun left the published day as it was: the original rows of the first run.
    raw_jan2 = _rows(root, "raw", "flights", JAN_2)
    assert raw_jan2.num_rows == 943
    assert _run_ids(raw_jan2) == {first_good_run_id}
    features_jan2 = _rows(root, "features", "flight_features", JAN_2)
    assert features_jan2.num_rows == 943
    assert _run_ids(features_jan2) == {first_good_run_id}
    # The damaged day was never published.
    assert lake.list_partitions(root, "raw", "flights") == [JAN_1, JAN_2]
    assert not lake.has_partition(root, "features", "flight_features", JAN_3)

    # The evidence: the failed checks with their counts, and the offending rows in quarantine.
    results = _rows(root, "quality", "validation_results", JAN_3)
    failed_critical = {
        r["check_name"]: r["unexpected_count"]
        for r in results.to_pylist()
        if r["table_name"] == "flights" and r["severity"] == "critical" and not r["success"]
    }
    assert failed_critical == {"distance.between": 3, "carrier.not_null": 2}
    assert _run_ids(results) == {runs["2013-01-03"].run_id}
    quarantined = _rows(root, "quarantine", "flights", JAN_3)
    assert quarantined.num_rows == 5
    reasons = quarantined.column("quarantine_reason").to_pylist()
    assert sorted(reasons) == sorted(["distance.between"] * 3 + ["carrier.not_null"] * 2)

    # What the task log says: the table, the day, the check and the count.
    with pytest.raises(DataValidationError) as excinfo:
        validate_and_publish(
            root, Interval.day(JAN_3), "direct-call", get_settings().row_count_bounds()
        )
    message = str(excinfo.value)
    for expected in ("flights", "2013-01-03", "distance.between", "3 of"):
        assert expected in message, f"{expected!r} not in:\n{message}"
    assert not lake.has_partition(root, "raw", "flights", JAN_3)
