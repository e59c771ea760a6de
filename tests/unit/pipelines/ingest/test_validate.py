"""extract, then validate_and_publish, over a fixture source: bad days blocked, good days kept."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest.extract import extract
from pipelines.ingest.sources.base import UnreadableSourceData
from pipelines.ingest.sources.nycflights import day_of
from pipelines.ingest.validate import DataValidationError, validate_and_publish
from pipelines.storage import lake
from tests.fixtures.intake import SMALL_DAYS as BOUNDS

TABLES = ("flights", "weather", "airlines")
DAYS = Interval.of("2013-01-01", "2013-01-03")


class FixtureSource:
    """A few real rows per day, with the defects a test plants."""

    kind = "fixture"

    def __init__(self) -> None:
        self.damage: dict[tuple[str, date], pa.Table] = {}

    def extract(self, table: str, day: date) -> pa.Table:
        if (table, day) in self.damage:
            return self.damage[(table, day)]
        data = day_of(table, day)
        return data if table == "airlines" else data.slice(0, 10)


def negative_distance(data: pa.Table) -> pa.Table:
    values = data["distance"].to_pylist()
    values[0] = -5.0
    return data.set_column(data.column_names.index("distance"), "distance", pa.array(values))


def run(source, root, interval=DAYS, run_id="run-1"):
    extract(source, root, interval, run_id, TABLES)
    return validate_and_publish(root, interval, run_id, BOUNDS, TABLES)


def test_good_days_are_published_with_their_evidence(tmp_path):
    summary = run(FixtureSource(), tmp_path)
    assert [d.passed for d in summary.days] == [True, True]
    assert lake.list_partitions(tmp_path, "raw", "flights") == list(DAYS.days())
    assert lake.read_partition(tmp_path, "raw", "flights", DAYS.start).num_rows == 10
    results = lake.read_partition(tmp_path, "quality", "validation_results", DAYS.start)
    assert set(results["table_name"].to_pylist()) == set(TABLES)
    assert all(results["success"].to_pylist())


def test_a_bad_day_is_blocked_and_the_good_data_before_it_is_kept(tmp_path):
    source = FixtureSource()
    run(source, tmp_path, run_id="good-run")
    bad_day = date(2013, 1, 2)
    source.damage[("flights", bad_day)] = negative_distance(day_of("flights", bad_day).slice(0, 10))

    with pytest.raises(DataValidationError) as failure:
        run(source, tmp_path, run_id="bad-run")

    message = str(failure.value)
    assert "2013-01-02" in message and "2013-01-01" not in message.split("Evidence")[0]
    assert "flights: distance.between" in message and "1 of 10 rows unexpected" in message
    # The earlier good partition of the bad day is untouched ...
    kept = lake.read_partition(tmp_path, "raw", "flights", bad_day)
    assert set(kept["pipeline_run_id"].to_pylist()) == {"good-run"}
    assert min(kept["distance"].to_pylist()) > 0
    # ... the good day of the same run was published ...
    published = lake.read_partition(tmp_path, "raw", "flights", DAYS.start)
    assert set(published["pipeline_run_id"].to_pylist()) == {"bad-run"}
    # ... and the evidence is kept.
    quarantined = lake.read_partition(tmp_path, "quarantine", "flights", bad_day)
    assert quarantined["quarantine_reason"].to_pylist() == ["distance.between"]
    results = lake.read_partition(tmp_path, "quality", "validation_results", bad_day).to_pylist()
    failed = [r["check_name"] for r in results if not r["success"]]
    assert failed == ["distance.between"]


def test_a_fixed_rerun_publishes_and_clears_the_quarantine(tmp_path):
    source = FixtureSource()
    bad_day = date(2013, 1, 2)
    source.damage[("flights", bad_day)] = negative_distance(day_of("flights", bad_day).slice(0, 10))
    with pytest.raises(DataValidationError):
        run(source, tmp_path)
    assert not lake.has_partition(tmp_path, "raw", "flights", bad_day)

    source.damage.clear()
    run(source, tmp_path, run_id="fixed-run")
    assert lake.read_partition(tmp_path, "raw", "flights", bad_day).num_rows == 10
    assert lake.read_partition(tmp_path, "quarantine", "flights", bad_day).num_rows == 0


class UnreadableSource(FixtureSource):
    """The fixture source, with files that cannot be read on some days."""

    def __init__(self) -> None:
        super().__init__()
        self.unreadable: dict[tuple[str, date], UnreadableSourceData] = {}

    def extract(self, table: str, day: date) -> pa.Table:
        if (table, day) in self.unreadable:
            raise self.unreadable[(table, day)]
        return super().extract(table, day)


def test_an_unreadable_table_blocks_the_day_with_the_readers_message(tmp_path):
    source = UnreadableSource()
    run(source, tmp_path, run_id="good-run")
    bad_day = date(2013, 1, 2)
    source.unreadable[("flights", bad_day)] = UnreadableSourceData(
        "flights", "CSV parse error: Row #5: Expected 19 columns, got 7", location="f.csv", line=5
    )

    with pytest.raises(DataValidationError) as failure:
        run(source, tmp_path, run_id="bad-run")

    message = str(failure.value)
    assert "flights: schema.readable" in message and "1 of 1 files unexpected" in message
    assert "f.csv, line 5: CSV parse error" in message
    results = lake.read_partition(tmp_path, "quality", "validation_results", bad_day).to_pylist()
    failed = [(r["table_name"], r["check_name"]) for r in results if not r["success"]]
    assert failed == [("flights", "schema.readable")]
    readable = [r for r in results if r["check_name"] == "schema.readable"]
    assert {r["table_name"] for r in readable} == set(TABLES)  # recorded for every table
    # The day stays as the good run published it, every table of it.
    # (airlines is a reference table: stored on 01-01 only, which the bad run passed again.)
    for table in ("flights", "weather"):
        kept = lake.read_partition(tmp_path, "raw", table, bad_day)
        assert set(kept["pipeline_run_id"].to_pylist()) == {"good-run"}, table
    assert lake.list_partitions(tmp_path, "raw", "airlines") == [DAYS.start]


def test_the_history_keeps_every_attempt_and_the_results_the_latest(tmp_path):
    source = FixtureSource()
    bad_day = date(2013, 1, 2)
    source.damage[("flights", bad_day)] = negative_distance(day_of("flights", bad_day).slice(0, 10))
    with pytest.raises(DataValidationError):
        run(source, tmp_path, run_id="bad-run")
    source.damage.clear()
    run(source, tmp_path, run_id="fixed-run")

    history = lake.read_partition(tmp_path, *tables.VALIDATION_HISTORY.address, bad_day)
    attempts = {(r["attempt"], r["attempt_run_id"], r["day_passed"]) for r in history.to_pylist()}
    assert attempts == {(1, "bad-run", False), (2, "fixed-run", True)}
    failed_before = [
        r["check_name"] for r in history.to_pylist() if r["attempt"] == 1 and not r["success"]
    ]
    assert failed_before == ["distance.between"]
    latest = lake.read_partition(tmp_path, *tables.VALIDATION_RESULTS.address, bad_day)
    assert all(latest["success"].to_pylist())
    assert latest.num_rows == history.num_rows // 2


def test_a_snapshot_is_compared_with_the_previous_published_one(tmp_path):
    source = FixtureSource()
    run(source, tmp_path, interval=Interval.day(DAYS.start), run_id="day-1")
    day = date(2013, 1, 2)
    airlines = day_of("airlines", day)
    used = set(day_of("flights", day).slice(0, 10)["carrier"].to_pylist())
    source.damage[("airlines", day)] = airlines.filter(
        pa.array([c not in used for c in airlines["carrier"].to_pylist()])
    )

    with pytest.raises(DataValidationError) as failure:
        run(source, tmp_path, interval=Interval.day(day), run_id="day-2")

    message = str(failure.value)
    assert (
        "airlines: rows.vs_previous" in message and "previous published snapshot had 16" in message
    )
    assert "flights: carrier.in_airlines" in message and "10 of 10 rows unexpected" in message
    assert lake.read_partition(tmp_path, "quarantine", "flights", day).num_rows == 10


def test_the_next_day_feeds_are_checked_against_the_latest_published_snapshots(tmp_path):
    source = FixtureSource()
    run(source, tmp_path, interval=Interval.day(DAYS.start), run_id="actuals")
    day = date(2013, 1, 2)
    schedule = day_of("schedule", day).slice(0, 10)
    source.damage[("schedule", day)] = schedule.set_column(
        schedule.column_names.index("carrier"), "carrier", pa.array(["ZZ"] + ["UA"] * 9)
    )
    feeds = ("schedule",)
    extract(source, tmp_path, Interval.day(day), "next-day", feeds)

    with pytest.raises(DataValidationError, match=r"schedule: carrier\.in_airlines.*1 of 10 rows"):
        validate_and_publish(
            tmp_path,
            Interval.day(day),
            "next-day",
            BOUNDS,
            feeds,
            results=tables.NEXT_DAY_VALIDATION_RESULTS,
        )
    history = lake.read_partition(tmp_path, *tables.NEXT_DAY_VALIDATION_HISTORY.address, day)
    assert set(history["table_name"].to_pylist()) == {"schedule"}
    assert not lake.has_partition(tmp_path, *tables.VALIDATION_HISTORY.address, day)


def test_a_reference_snapshot_is_stored_once_per_change_of_content(tmp_path):
    source = FixtureSource()
    three_days = Interval.of("2013-01-01", "2013-01-04")
    airlines = day_of("airlines", date(2013, 1, 3))
    names = airlines["name"].to_pylist()
    renamed = airlines.set_column(1, "name", pa.array(["Renamed Air", *names[1:]]))
    source.damage[("airlines", date(2013, 1, 3))] = renamed
    run(source, tmp_path, three_days)

    # Day 2 delivered the same airlines as day 1: no copy; day 3 changed: a new snapshot.
    assert lake.list_partitions(tmp_path, "raw", "airlines") == [date(2013, 1, 1), date(2013, 1, 3)]
    results = lake.read_partition(tmp_path, "quality", "validation_results", date(2013, 1, 2))
    airlines = {r["check_name"]: r for r in results.to_pylist() if r["table_name"] == "airlines"}
    assert set(airlines) == {"schema.readable", "snapshot.unchanged"}
    assert "2013-01-01" in airlines["snapshot.unchanged"]["observed_value"]
    # A rerun of day 2 after a day-2 snapshot had been stored withdraws it again.
    source.damage[("airlines", date(2013, 1, 2))] = renamed
    run(source, tmp_path, Interval.day(date(2013, 1, 2)), "run-2")
    assert date(2013, 1, 2) in lake.list_partitions(tmp_path, "raw", "airlines")
    del source.damage[("airlines", date(2013, 1, 2))]
    run(source, tmp_path, Interval.day(date(2013, 1, 2)), "run-3")
    assert date(2013, 1, 2) not in lake.list_partitions(tmp_path, "raw", "airlines")
