"""Nothing wrong gets through, nothing is silently wrong: one bad input per case.

For each case (``tests/fixtures/bad_inputs.py``) a real landing zone is damaged on 2013-01-04,
after 2013-01-01..03 were published. Then: the day is blocked (or, where the policy allows, the bad
rows quarantined) with an error naming the table, the check and the counts; the evidence is kept
(validation results and history, quarantined rows or the unreadable file); the published days are
unchanged to the byte; the warehouse builds and answers; and once the landing zone is repaired the
day validates and publishes. One PostgreSQL case per schema change closes the file.

The landing zone and the published lake are built once for the module and copied per case: Great
Expectations costs seconds to import and about a second per validated day.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pytest

from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest import evidence
from pipelines.ingest.extract import extract
from pipelines.ingest.sources.base import Source
from pipelines.ingest.sources.files import FilesSource, generate_landing
from pipelines.ingest.sources.postgres import PostgresSource, load_nycflights13
from pipelines.ingest.validate import DataValidationError, ValidationSummary, validate_and_publish
from pipelines.settings import Settings
from pipelines.storage import lake
from pipelines.storage.warehouse import build_warehouse
from tests.fixtures.bad_inputs import CASES, DAY, FIRST_DAY, Case
from tests.fixtures.postgres import throwaway_database

pytestmark = pytest.mark.integration

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
PUBLISHED = Interval(FIRST_DAY, DAY)  # 2013-01-01..03: 842 + 943 + 914 flights
PUBLISHED_FLIGHTS = 2699
# Production bounds, except that three published days are enough history for the volume rule.
BOUNDS = replace(Settings().row_count_bounds(), volume_min_days=3)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing zone through DAY and a lake with the days before it published."""
    root = tmp_path_factory.mktemp("bad-inputs")
    generate_landing(root / "landing", Interval(FIRST_DAY, DAY + timedelta(days=1)))
    extract(FilesSource(root / "landing"), root / "lake", PUBLISHED, "published")
    validate_and_publish(root / "lake", PUBLISHED, "published", BOUNDS)
    return root


@pytest.fixture
def zone(published: Path, tmp_path: Path) -> Path:
    shutil.copytree(published, tmp_path / "zone")
    return tmp_path / "zone"


def intake(source: Source, root: Path, run_id: str) -> ValidationSummary | DataValidationError:
    """Extract and validate DAY, as the DAG's two tasks do; the validation error is returned."""
    extract(source, root, Interval.day(DAY), run_id)  # never raises for a bad file
    try:
        return validate_and_publish(root, Interval.day(DAY), run_id, BOUNDS)
    except DataValidationError as exc:
        return exc


def fingerprints(root: Path) -> dict[tuple[str, str], str]:
    """A digest of every published partition before DAY, as the lake serves it."""
    found = {}
    for table in tables.SOURCE_TABLES:
        for day in lake.list_partitions(root, *tables.raw(table).address):
            if day < DAY:
                data = lake.read_partition(root, *tables.raw(table).address, day)
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, data.schema) as stream:
                    stream.write_table(data)
                found[(table, day.isoformat())] = hashlib.sha256(sink.getvalue()).hexdigest()
    return found


def assert_evidence(root: Path, case: Case) -> None:
    results = lake.read_partition(root, *tables.VALIDATION_RESULTS.address, DAY).to_pylist()
    (row,) = [r for r in results if (r["table_name"], r["check_name"]) == (case.table, case.check)]
    assert row["success"] is (not case.blocks), row
    history = lake.read_partition(root, *tables.VALIDATION_HISTORY.address, DAY).to_pylist()
    assert {(r["attempt"], r["day_passed"]) for r in history} == {(1, not case.blocks)}
    if case.check == "schema.readable":
        assert case.expect in row["unexpected_sample"]
        (attempt,) = evidence.quarantined_files_dir(root, case.table, DAY).iterdir()
        assert [f.name for f in attempt.iterdir()] == [f"{DAY}.csv"]
    if case.quarantined is not None:
        rows = lake.read_partition(root, *tables.quarantine(case.table).address, DAY)
        assert rows.num_rows == case.quarantined
        assert all(case.check in r for r in rows["quarantine_reason"].to_pylist())


def assert_queryable(root: Path, warehouse: Path, blocked: bool) -> None:
    build_warehouse(root, SQL_ROOT, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        flights = con.execute("SELECT count(*) FROM raw.flights").fetchone()
        failed = con.execute(
            "SELECT count(*) FROM quality.validation_results"
            " WHERE dt = ? AND severity = 'critical' AND NOT success",
            [DAY],
        ).fetchone()
    assert flights is not None and failed is not None
    assert (flights[0] == PUBLISHED_FLIGHTS) is blocked
    assert (failed[0] > 0) is blocked


def assert_published(root: Path, run_id: str) -> None:
    for table in tables.DAILY_TABLES:
        data = lake.read_partition(root, *tables.raw(table).address, DAY)
        assert data.num_rows > 0 and set(data[lake.RUN_ID_COLUMN].to_pylist()) == {run_id}, table
    # A reference snapshot is stored once per change of content: the day reads the latest one.
    for table in tables.REFERENCE_TABLES:
        days = [d for d in lake.list_partitions(root, *tables.raw(table).address) if d <= DAY]
        assert days, table
        assert lake.read_partition(root, *tables.raw(table).address, days[-1]).num_rows > 0, table


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_input_is_stopped_with_evidence_and_the_repaired_day_publishes(
    case: Case, zone: Path, published: Path
) -> None:
    landing, root = zone / "landing", zone / "lake"
    before = fingerprints(root)
    case.damage(landing)

    outcome = intake(FilesSource(landing), root, "bad-run")

    if case.blocks:
        assert isinstance(outcome, DataValidationError), f"{case.id} was not blocked"
        message = str(outcome)
        assert f"{case.table}: {case.check}" in message and case.expect in message, message
        assert not any(lake.has_partition(root, "raw", t, DAY) for t in tables.SOURCE_TABLES)
    else:
        assert isinstance(outcome, ValidationSummary) and not outcome.failed_days
        assert_published(root, "bad-run")
    assert_evidence(root, case)
    assert fingerprints(root) == before
    assert_queryable(root, zone / "warehouse.duckdb", blocked=case.blocks)

    shutil.rmtree(landing)  # upstream repairs the drop (a snapshot dated DAY goes with it)
    shutil.copytree(published / "landing", landing)
    repaired = intake(FilesSource(landing), root, "repair-run")

    assert isinstance(repaired, ValidationSummary), str(repaired)
    assert_published(root, "repair-run")
    history = lake.read_partition(root, *tables.VALIDATION_HISTORY.address, DAY).to_pylist()
    assert {(r["attempt"], r["day_passed"]) for r in history} == {(1, not case.blocks), (2, True)}
    assert fingerprints(root) == before


# --- The PostgreSQL source: a changed table is blocked by the same checks -------------------------

PG_CASES = {
    "renamed_column": (
        "ALTER TABLE oltp.flights RENAME COLUMN carrier TO carrier_code",
        "ALTER TABLE oltp.flights RENAME COLUMN carrier_code TO carrier",
        ("flights", "schema.columns", "(missing carrier, extra carrier_code)"),
    ),
    "retyped_column": (
        "ALTER TABLE oltp.flights ALTER COLUMN dep_delay TYPE text",
        "ALTER TABLE oltp.flights ALTER COLUMN dep_delay TYPE double precision"
        " USING dep_delay::double precision",
        ("flights", "schema.readable", "column dep_delay is text"),
    ),
    "extra_column": (
        "ALTER TABLE oltp.planes ADD COLUMN owner text",
        "ALTER TABLE oltp.planes DROP COLUMN owner",
        ("planes", "schema.columns", "(extra owner)"),
    ),
}


@pytest.fixture(scope="module")
def source_dsn() -> Iterator[str]:
    with throwaway_database("nightshift_test_bad_inputs") as dsn:
        load_nycflights13(dsn)
        yield dsn


@pytest.mark.parametrize("change", sorted(PG_CASES))
def test_a_changed_postgres_table_is_blocked_by_a_schema_check(
    change: str, zone: Path, source_dsn: str
) -> None:
    alter, restore, (table, check, expect) = PG_CASES[change]
    root, source = zone / "lake", PostgresSource(source_dsn)
    before = fingerprints(root)
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        conn.execute(alter)
        try:
            outcome = intake(source, root, "bad-run")
        finally:
            conn.execute(restore)

    assert isinstance(outcome, DataValidationError)
    message = str(outcome)
    assert f"{table}: {check}" in message and expect in message, message
    results = lake.read_partition(root, *tables.VALIDATION_RESULTS.address, DAY).to_pylist()
    found = [r["success"] for r in results if (r["table_name"], r["check_name"]) == (table, check)]
    assert found == [False]
    assert fingerprints(root) == before
    assert_queryable(root, zone / "warehouse.duckdb", blocked=True)

    assert isinstance(intake(source, root, "repair-run"), ValidationSummary)
    assert_published(root, "repair-run")
