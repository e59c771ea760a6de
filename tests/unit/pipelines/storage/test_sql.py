"""The SQL loader and the macros every lake connection defines (known answers)."""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.settings import DuckDBResources
from pipelines.storage import lake
from pipelines.storage.sql import SqlFileNotFound, connect, load_sql, macro_connection


def test_smoothed_rate_shrinks_toward_the_prior_and_reads_missing_counts_as_zero(
    sql_root: Path,
) -> None:
    with macro_connection(sql_root) as con:
        seen_twice, never_seen, many = con.execute(
            "select smoothed_rate(2, 2, 0.2, 20.0), smoothed_rate(null, null, 0.2, 20.0),"
            " smoothed_rate(500, 1000, 0.2, 20.0)"
        ).fetchone()
    assert seen_twice == pytest.approx((2 + 0.2 * 20) / (2 + 20))  # 2 of 2 late: 27%, not 100%
    assert never_seen == pytest.approx(0.2)
    assert many == pytest.approx((500 + 4) / 1020)


def test_lake_table_reads_every_partition_with_its_day(tmp_path: Path, sql_root: Path) -> None:
    for day, rows in ((date(2013, 1, 1), 2), (date(2013, 1, 2), 3)):
        lake.write_partition(tmp_path, "raw", "airlines", day, pa.table({"x": range(rows)}), "r")
    files = lake.table_files(tmp_path, "raw", "airlines")
    with macro_connection(sql_root) as con:
        got = con.execute(
            "select dt, count(*) from lake_table($files) group by dt order by dt", {"files": files}
        ).fetchall()
    assert got == [(date(2013, 1, 1), 2), (date(2013, 1, 2), 3)]


def test_the_loader_refuses_names_that_are_not_sql_files(sql_root: Path) -> None:
    assert "lake_table" in load_sql(sql_root, "macros", "lake_table")
    with pytest.raises(ValueError, match="lower_snake_case"):
        load_sql(sql_root, "..", "passwd")
    with pytest.raises(SqlFileNotFound):
        load_sql(sql_root, "reports", "no_such_report")


def _setting(con, name: str):
    return con.execute("select current_setting($name)", {"name": name}).fetchone()[0]


def test_a_pipeline_connection_is_held_to_the_memory_limit_and_spills_under_the_temp_directory(
    tmp_path: Path, sql_root: Path
) -> None:
    resources = DuckDBResources("64MiB", tmp_path / "spill", threads=1)
    with macro_connection(sql_root, resources) as con:
        assert _setting(con, "memory_limit") == "64.0 MiB"
        assert _setting(con, "threads") == 1
        # One folder per host: DuckDB names spill files after the process id, which two
        # containers sharing the data volume may both have.
        assert _setting(con, "temp_directory") == str(tmp_path / "spill" / socket.gethostname())
        assert _setting(con, "preserve_insertion_order") is True
        # Sorting 100 MB of rows under a 64 MiB limit: it spills instead of failing.
        sorted_rows = con.execute(
            "select count(*) from (select range % 7919 as k, repeat('x', 100) as pad"
            " from range(1000000) order by k, pad)"
        ).fetchone()
        assert sorted_rows == (1_000_000,)


def test_without_resources_duckdb_keeps_its_defaults_and_order_can_be_given_up() -> None:
    with connect(keep_insertion_order=False) as con:
        assert _setting(con, "preserve_insertion_order") is False
        assert _setting(con, "memory_limit") != "64.0 MiB"
