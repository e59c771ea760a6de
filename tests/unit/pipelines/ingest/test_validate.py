"""extract, then validate_and_publish, over a fixture source: bad days blocked, good days kept."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from pipelines.dates import Interval
from pipelines.ingest.extract import extract
from pipelines.ingest.sources.nycflights import day_of
from pipelines.ingest.validate import DataValidationError, validate_and_publish
from pipelines.settings import RowCountBounds
from pipelines.storage import lake

BOUNDS = RowCountBounds(flights=(5, 100), weather=(5, 100))
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
