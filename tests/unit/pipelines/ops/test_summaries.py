"""What the demo's closing summary counts: partitions and rows per table, findings per day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from pipelines.dates import Interval
from pipelines.ops.summaries import day_ranges, format_rows, partitions_table, validation_by_day
from pipelines.storage import lake

DAYS = Interval.of("2013-01-01", "2013-01-03")


def _results(critical_failed: int, warnings: int) -> pa.Table:
    checks = 5
    return pa.table(
        {
            "check_name": [f"c{i}" for i in range(checks)],
            "severity": ["critical"] * 3 + ["warning"] * 2,
            "success": [i >= critical_failed for i in range(3)] + [i >= warnings for i in range(2)],
        }
    )


def _lake(root: Path) -> None:
    for day, rows in ((date(2013, 1, 1), 3), (date(2013, 1, 2), 4), (date(2013, 1, 3), 9)):
        lake.write_partition(root, "raw", "flights", day, pa.table({"x": range(rows)}), "r")
        lake.write_partition(root, "incoming", "flights", day, pa.table({"x": range(rows)}), "r")
    lake.write_partition(
        root, "quality", "validation_results", date(2013, 1, 1), _results(0, 0), "r"
    )
    lake.write_partition(
        root, "quality", "validation_results", date(2013, 1, 2), _results(1, 2), "r"
    )
    lake.write_partition(root, "quarantine", "weather", date(2013, 1, 2), pa.table({"x": [1]}), "r")


def test_partitions_and_rows_are_counted_within_the_interval_for_published_tables(
    tmp_path: Path, sql_root: Path
) -> None:
    _lake(tmp_path)
    rows = dict((t, (p, n)) for t, p, n in partitions_table(tmp_path, sql_root, DAYS))
    assert rows["raw.flights"] == (2, 7)  # the 3rd is outside [01-01, 01-03)
    assert rows["quarantine.weather"] == (1, 1)
    assert "incoming.flights" not in rows


def test_each_day_shows_its_checks_failures_warnings_and_quarantined_rows(
    tmp_path: Path, sql_root: Path
) -> None:
    _lake(tmp_path)
    assert validation_by_day(tmp_path, sql_root, DAYS) == [
        (date(2013, 1, 1), 5, 0, 0, 0),
        (date(2013, 1, 2), 5, 1, 2, 1),
    ]
    assert validation_by_day(tmp_path / "empty", sql_root, DAYS) == []


def test_rows_are_printed_as_a_fixed_width_table() -> None:
    assert format_rows(("day", "rows"), [("2013-01-01", 7)]).splitlines() == [
        "day         rows",
        "----------  ----",
        "2013-01-01  7   ",
    ]


def test_day_ranges_fold_consecutive_days() -> None:
    days = [date(2013, 3, d) for d in (5, 1, 2, 3, 9, 2)]
    assert day_ranges(days) == "2013-03-01 to 2013-03-03, 2013-03-05, 2013-03-09 (5 days)"
    assert day_ranges([date(2013, 1, 31), date(2013, 2, 1)]) == "2013-01-31 to 2013-02-01 (2 days)"
    assert day_ranges([date(2013, 3, 1)]) == "2013-03-01 (1 day)"
    assert day_ranges([]) == "none"
