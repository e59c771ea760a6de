"""Views over the lake: the analysts' warehouse file and the pipelines' in-memory connection."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines.dates import Interval
from pipelines.ingest.sources.nycflights import day_of
from pipelines.storage import lake
from pipelines.storage.warehouse import CatalogSummary, build_warehouse, lake_connection

DAY_1 = date(2013, 1, 1)
DAY_2 = date(2013, 1, 2)
DAY_3 = date(2013, 1, 3)
FLIGHT_VIEWS = [
    "staging.stg_flight_labelled_schedule",
    "staging.stg_flight_outcomes",
    "staging.stg_flight_schedule",
]


def _write_flights(lake_root: Path, day: date, layer: str = "raw", rows: int = 5) -> None:
    lake.write_partition(
        lake_root, layer, "flights", day, day_of("flights", day).slice(0, rows), "r"
    )


def _write_quality(lake_root: Path, day: date) -> None:
    results = pa.table(
        {
            "check_name": ["row_count", "carrier_not_null", "dep_delay_range"],
            "severity": ["critical", "critical", "warning"],
            "success": [True, True, False],
        }
    )
    lake.write_partition(lake_root, "quality", "validation_results", day, results, "r")


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    _write_flights(root, DAY_1)
    _write_flights(root, DAY_2)
    _write_quality(root, DAY_1)
    return root


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "warehouse.duckdb"


def _tables_seen_by_a_new_process(path: Path) -> list[str]:
    """A fresh read-only connection from another process, as an analyst's notebook opens one.

    In this process DuckDB would hand back its cached instance of the file while any connection to
    the same path is still open, whatever the file now holds (see the report).
    """
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "rows = con.execute(\"select table_schema || '.' || table_name"
        ' from information_schema.tables order by 1").fetchall()\n'
        "print(json.dumps([r[0] for r in rows]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_build_warehouse_creates_views_over_every_lake_table(
    lake_root: Path, sql_root: Path, warehouse: Path
) -> None:
    summary = build_warehouse(lake_root, sql_root, warehouse)

    assert isinstance(summary, CatalogSummary)
    assert sorted(summary.tables) == ["quality.validation_results", "raw.flights"]
    assert summary.views == FLIGHT_VIEWS
    with duckdb.connect(str(warehouse), read_only=True) as con:
        by_day = con.execute("select dt, count(*) from raw.flights group by dt order by dt")
        assert by_day.fetchall() == [(DAY_1, 5), (DAY_2, 5)]
        dt_type = con.execute("select typeof(dt) from raw.flights limit 1").fetchone()
        assert dt_type == ("DATE",)
        failed = con.execute(
            "select dt, check_name from quality.validation_results where not success"
        ).fetchall()
        assert failed == [(DAY_1, "dep_delay_range")]
        # Views only: the warehouse holds no copy of the data.
        kinds = con.execute(
            "select table_type, count(*) from information_schema.tables"
            " where table_schema in ('raw', 'quality', 'staging') group by 1"
        ).fetchall()
        assert kinds == [("VIEW", 5)]


def test_the_warehouse_rows_match_the_lake(
    lake_root: Path, sql_root: Path, warehouse: Path
) -> None:
    build_warehouse(lake_root, sql_root, warehouse)
    expected = day_of("flights", DAY_2).slice(0, 5)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = con.execute(
            "select carrier, flight, pipeline_run_id from raw.flights where dt = ? order by flight",
            [DAY_2],
        ).fetchall()

    assert got == sorted(
        zip(
            expected["carrier"].to_pylist(), expected["flight"].to_pylist(), ["r"] * 5, strict=True
        ),
        key=lambda row: row[1],
    )


def test_staging_views_are_queryable_in_the_warehouse(
    lake_root: Path, sql_root: Path, warehouse: Path
) -> None:
    build_warehouse(lake_root, sql_root, warehouse)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        schedule = con.execute(
            "select flight_date, count(*) from staging.stg_flight_schedule group by 1 order by 1"
        ).fetchall()
        outcomes = con.execute("select count(*) from staging.stg_flight_outcomes").fetchone()

    assert schedule == [(DAY_1, 5), (DAY_2, 5)]
    assert outcomes == (10,)


def test_build_warehouse_leaves_no_temporary_files(
    lake_root: Path, sql_root: Path, warehouse: Path
) -> None:
    build_warehouse(lake_root, sql_root, warehouse)
    build_warehouse(lake_root, sql_root, warehouse)

    # The catalog, and the lock that makes concurrent refreshes take turns; nothing else.
    assert sorted(p.name for p in warehouse.parent.iterdir()) == [
        ".warehouse.duckdb.lock",
        "warehouse.duckdb",
    ]
    assert list(warehouse.parent.glob(".*.tmp*")) == []
    assert list(warehouse.parent.glob("*.wal")) == []


def test_an_open_analyst_connection_survives_a_rebuild(
    lake_root: Path, sql_root: Path, warehouse: Path
) -> None:
    build_warehouse(lake_root, sql_root, warehouse)
    analyst = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert analyst.execute("select count(*) from raw.flights").fetchone() == (10,)

        _write_flights(lake_root, DAY_3)
        lake.write_partition(
            lake_root, "raw", "weather", DAY_3, day_of("weather", DAY_3).slice(0, 4), "r"
        )
        summary = build_warehouse(lake_root, sql_root, warehouse)

        assert "raw.weather" in summary.tables
        assert "staging.stg_weather" in summary.views
        # The old catalog keeps answering, from the snapshot it was built on (its files stay)...
        assert analyst.execute("select count(*) from raw.flights").fetchone() == (10,)
        assert analyst.execute("select count(*) from quality.validation_results").fetchone() == (3,)
        # ...but it is the old catalog: the table added by the rebuild is not in it.
        with pytest.raises(duckdb.CatalogException):
            analyst.execute("select count(*) from raw.weather")
        # Meanwhile another analyst who connects now opens the rebuilt catalog.
        assert "raw.weather" in _tables_seen_by_a_new_process(warehouse)
        assert analyst.execute("select count(*) from raw.flights").fetchone() == (10,)
    finally:
        analyst.close()

    # Once nothing in this process holds the old file, a connection here sees the new one too.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.weather").fetchone() == (4,)
        assert con.execute("select count(*) from staging.stg_weather").fetchone() == (4,)
        assert con.execute("select count(*) from raw.flights").fetchone() == (15,)


def test_the_warehouse_shows_one_snapshot_until_it_is_rebuilt(
    lake_root: Path, sql_root: Path, warehouse: Path
) -> None:
    built = build_warehouse(lake_root, sql_root, warehouse)

    _write_flights(lake_root, DAY_3, rows=2)
    _write_flights(lake_root, DAY_1, rows=3)  # a rerun replaces the day

    query = "select dt, count(*) from raw.flights group by dt order by dt"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # Analysts keep reading the snapshot the warehouse was built on: no half-published run.
        assert con.execute(query).fetchall() == [(DAY_1, 5), (DAY_2, 5)]
    rebuilt = build_warehouse(lake_root, sql_root, warehouse)
    assert rebuilt.snapshot is not None and built.snapshot is not None
    assert rebuilt.snapshot == built.snapshot + 2
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(query).fetchall() == [(DAY_1, 3), (DAY_2, 5), (DAY_3, 2)]


def test_staging_views_are_skipped_until_their_raw_tables_exist(
    tmp_path: Path, sql_root: Path, warehouse: Path
) -> None:
    root = tmp_path / "lake"
    _write_quality(root, DAY_1)

    before = build_warehouse(root, sql_root, warehouse)

    assert before.tables == ["quality.validation_results"]
    assert before.views == []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from quality.validation_results").fetchone() == (3,)
        with pytest.raises(duckdb.CatalogException):
            con.execute("select * from staging.stg_flight_schedule")

    _write_flights(root, DAY_1)
    after = build_warehouse(root, sql_root, warehouse)

    assert after.views == FLIGHT_VIEWS
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from staging.stg_flight_schedule").fetchone() == (5,)


def test_a_warehouse_over_an_empty_lake_builds(
    tmp_path: Path, sql_root: Path, warehouse: Path
) -> None:
    summary = build_warehouse(tmp_path / "no-lake-yet", sql_root, warehouse)

    assert summary == CatalogSummary(tables=[], views=[])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select 42").fetchone() == (42,)


def test_the_lake_connection_exposes_incoming_but_the_warehouse_does_not(
    lake_root: Path, sql_root: Path, warehouse: Path
) -> None:
    _write_flights(lake_root, DAY_3, layer="incoming", rows=4)

    with lake_connection(lake_root, sql_root) as con:
        assert con.execute("select dt, count(*) from incoming.flights group by dt").fetchall() == [
            (DAY_3, 4)
        ]
        assert con.execute("select count(*) from raw.flights").fetchone() == (10,)

    summary = build_warehouse(lake_root, sql_root, warehouse)

    assert "incoming.flights" not in summary.tables
    with duckdb.connect(str(warehouse), read_only=True) as con:
        with pytest.raises(duckdb.CatalogException):
            con.execute("select * from incoming.flights")
        assert con.execute("select count(*) from raw.flights").fetchone() == (10,)


def test_the_lake_connection_defines_staging_views_but_no_marts(
    lake_root: Path, sql_root: Path
) -> None:
    with lake_connection(lake_root, sql_root) as con, pytest.raises(duckdb.CatalogException):
        con.execute("select * from marts.route_risk_daily")

    with lake_connection(lake_root, sql_root) as con:
        delayed = con.execute(
            "select count(*) from staging.stg_flight_outcomes where flight_date = ?", [DAY_1]
        ).fetchone()
        assert delayed == (5,)


def _days_read_by(con: duckdb.DuckDBPyConnection, layer: str, table: str) -> list[date]:
    """The partitions a view's definition names (each file sits under its ``dt=`` folder)."""
    [(sql,)] = con.execute(
        "select sql from duckdb_views() where schema_name = $layer and view_name = $table",
        {"layer": layer, "table": table},
    ).fetchall()
    return sorted(date.fromisoformat(d) for d in re.findall(r"dt=(\d{4}-\d{2}-\d{2})", sql))


def test_a_window_gives_views_over_its_days_and_the_reference_snapshot_in_force_when_it_opens(
    tmp_path: Path, sql_root: Path
) -> None:
    root = tmp_path / "lake"
    days = [DAY_1 + timedelta(days=i) for i in range(10)]
    for day in days:
        _write_flights(root, day, rows=2)
    planes = day_of("planes", DAY_1).slice(0, 3)
    for day in (days[0], days[2], days[4], days[7]):
        lake.write_partition(root, "raw", "planes", day, planes, "r")
    lake.write_partition(root, "raw", "schedule", days[9], day_of("schedule", days[9]), "r")
    window = Interval(days[3], days[6])

    with lake_connection(root, sql_root, days=window) as con:
        assert _days_read_by(con, "raw", "flights") == days[3:6]
        # The snapshot delivered last before the window, and the ones inside it.
        assert _days_read_by(con, "raw", "planes") == [days[2], days[4]]
        assert con.execute("select count(*) from raw.flights").fetchone() == (6,)
        # No schedule in the window: the view is there, empty, with the table's columns.
        assert con.execute("select count(*) from raw.schedule").fetchone() == (0,)
        windowed = [d[0] for d in con.sql("select * from raw.schedule").description]
    with lake_connection(root, sql_root) as con:
        assert _days_read_by(con, "raw", "flights") == days
        assert [d[0] for d in con.sql("select * from raw.schedule").description] == windowed
