"""The Parquet lake: immutable partition files under snapshots, reruns that replace, crashes and
stale temporaries that readers never see, transactions, time travel and vacuum."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.dates import Interval
from pipelines.storage import lake

DAY = date(2013, 1, 2)
NEXT_DAY = date(2013, 1, 3)


def _flights(n: int, first_flight: int = 1) -> pa.Table:
    return pa.table(
        {
            "flight": pa.array(range(first_flight, first_flight + n), type=pa.int32()),
            "carrier": pa.array(["UA", "AA", "B6", "DL", "EV"][i % 5] for i in range(n)),
            "dep_delay": pa.array([float(i) for i in range(n)], type=pa.float64()),
        }
    )


def _glob_rows(root: Path, layer: str, table: str) -> list[tuple]:
    """What DuckDB (and therefore every view over the lake) reads for a whole table."""
    with duckdb.connect(":memory:") as con:
        return con.execute(
            "select dt::date as dt, flight, pipeline_run_id from read_parquet(?, "
            "hive_partitioning = true, union_by_name = true) order by dt, flight",
            [lake.table_files(root, layer, table) or ["no-files"]],
        ).fetchall()


def _parquet_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.parquet"))


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp"))


def _stale_temp(folder: Path, age_seconds: float) -> Path:
    path = folder / f".part-{os.urandom(16).hex()}.parquet.tmp"
    path.write_bytes(b"PAR1 half a file from a writer that was killed")
    mtime = time.time() - age_seconds
    os.utime(path, (mtime, mtime))
    return path


# --- write / read -----------------------------------------------------------------------------


def test_write_then_read_round_trips_the_rows(tmp_path: Path) -> None:
    data = _flights(4)

    written = lake.write_partition(tmp_path, "raw", "flights", DAY, data, "run-1")

    assert written.rows == 4
    assert written.path.parent == tmp_path / "raw" / "flights" / "dt=2013-01-02"
    assert written.path.name.startswith("part-") and written.path.suffix == ".parquet"
    assert (
        written.path.exists()
        and lake.partition_file(tmp_path, "raw", "flights", DAY) == written.path
    )
    back = lake.read_partition(tmp_path, "raw", "flights", DAY)
    assert back.drop_columns([lake.RUN_ID_COLUMN]).equals(data)


def test_every_row_is_stamped_with_the_run_id(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(5), "manual__2013-01-02")

    back = lake.read_partition(tmp_path, "raw", "flights", DAY)

    assert back.column_names[-1] == lake.RUN_ID_COLUMN
    assert back[lake.RUN_ID_COLUMN].to_pylist() == ["manual__2013-01-02"] * 5


def test_an_existing_run_id_column_is_overwritten_not_duplicated(tmp_path: Path) -> None:
    data = _flights(3).append_column(lake.RUN_ID_COLUMN, pa.array(["upstream-run"] * 3))

    lake.write_partition(tmp_path, "raw", "flights", DAY, data, "this-run")

    back = lake.read_partition(tmp_path, "raw", "flights", DAY)
    assert back.column_names.count(lake.RUN_ID_COLUMN) == 1
    assert set(back[lake.RUN_ID_COLUMN].to_pylist()) == {"this-run"}


def test_a_write_without_run_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(lake.LakeError, match="run id"):
        lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(3), "")
    assert not lake.has_partition(tmp_path, "raw", "flights", DAY)


def test_a_dt_column_in_the_input_is_dropped_because_the_path_carries_the_date(
    tmp_path: Path,
) -> None:
    data = _flights(3).append_column("dt", pa.array([date(1999, 9, 9)] * 3))

    lake.write_partition(tmp_path, "raw", "flights", DAY, data, "run-1")

    back = lake.read_partition(tmp_path, "raw", "flights", DAY)
    assert "dt" not in back.column_names
    # Readers get dt from the partition path, never a conflicting copy from the file.
    assert {row[0] for row in _glob_rows(tmp_path, "raw", "flights")} == {DAY}


def test_reading_a_missing_partition_says_which_and_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(lake.LakeError, match=r"raw\.flights has no partition dt=2013-01-02"):
        lake.read_partition(tmp_path, "raw", "flights", DAY)


# --- reruns replace ---------------------------------------------------------------------------


def test_a_rerun_of_the_same_partition_replaces_it(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(5), "run-1")
    lake.write_partition(tmp_path, "raw", "flights", NEXT_DAY, _flights(4, 100), "run-1")

    written = lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(3, 50), "run-2")

    assert written.rows == 3
    back = lake.read_partition(tmp_path, "raw", "flights", DAY)
    assert back.num_rows == 3
    assert back["flight"].to_pylist() == [50, 51, 52]
    assert set(back[lake.RUN_ID_COLUMN].to_pylist()) == {"run-2"}
    # The partition is the new file; the old one stays for older snapshots until vacuumed.
    assert lake.partition_file(tmp_path, "raw", "flights", DAY) == written.path
    assert len(_parquet_files(written.path.parent)) == 2

    rows = _glob_rows(tmp_path, "raw", "flights")
    assert len(rows) == 3 + 4  # the rerun day once, not 5 + 3; the other day untouched
    assert len(set(rows)) == len(rows)
    assert [r for r in rows if r[0] == DAY] == [
        (DAY, 50, "run-2"),
        (DAY, 51, "run-2"),
        (DAY, 52, "run-2"),
    ]
    assert {r[2] for r in rows if r[0] == NEXT_DAY} == {"run-1"}


def test_an_empty_table_replaces_earlier_rows(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "quarantine", "flights", DAY, _flights(4), "run-1")

    written = lake.write_partition(
        tmp_path, "quarantine", "flights", DAY, _flights(4).slice(0, 0), "run-2"
    )

    assert written.rows == 0
    back = lake.read_partition(tmp_path, "quarantine", "flights", DAY)
    assert back.num_rows == 0
    assert back.column_names == ["flight", "carrier", "dep_delay", lake.RUN_ID_COLUMN]
    assert _glob_rows(tmp_path, "quarantine", "flights") == []
    # The partition still exists: the day was processed and holds nothing.
    assert lake.list_partitions(tmp_path, "quarantine", "flights") == [DAY]


# --- crash safety -----------------------------------------------------------------------------


def test_a_write_that_crashes_midway_leaves_the_previous_partition_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(4), "run-1")
    before = lake.read_partition(tmp_path, "raw", "flights", DAY)
    folder = lake.partition_dir(tmp_path, "raw", "flights", DAY)
    partial_paths: list[Path] = []

    class CrashMidway:
        def __init__(self, where: object, *args: object, **kwargs: object) -> None:
            self.path = Path(str(where))
            partial_paths.append(self.path)

        def __enter__(self) -> CrashMidway:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def close(self) -> None:
            return None

        def write_batch(self, *args: object, **kwargs: object) -> None:
            self.path.write_bytes(b"PAR1\x00\x01 half-written row group")
            raise OSError("No space left on device")

    monkeypatch.setattr("pipelines.storage.lake.pq.ParquetWriter", CrashMidway)
    with pytest.raises(OSError, match="No space left"):
        lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(2, 90), "run-2")
    monkeypatch.undo()

    # The crash wrote somewhere other than the live file...
    assert partial_paths and partial_paths[0].parent == folder
    assert partial_paths[0].name.endswith(".tmp")
    # ...so readers still see the previous partition, byte for byte the same rows.
    assert lake.read_partition(tmp_path, "raw", "flights", DAY).equals(before)
    live = lake.partition_file(tmp_path, "raw", "flights", DAY)
    assert live is not None and _parquet_files(folder) == [live.name]
    assert _temporaries(folder) == []
    rows = _glob_rows(tmp_path, "raw", "flights")
    assert [r[1] for r in rows] == [1, 2, 3, 4]
    assert {r[2] for r in rows} == {"run-1"}


def test_a_stale_temporary_file_is_not_read_by_the_duckdb_glob(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(3), "run-1")
    folder = lake.partition_dir(tmp_path, "raw", "flights", DAY)
    _stale_temp(folder, age_seconds=0)

    rows = _glob_rows(tmp_path, "raw", "flights")

    assert [r[1] for r in rows] == [1, 2, 3]
    assert lake.list_partitions(tmp_path, "raw", "flights") == [DAY]


def test_the_next_write_removes_old_temporaries_and_keeps_fresh_ones(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(3), "run-1")
    folder = lake.partition_dir(tmp_path, "raw", "flights", DAY)
    old = _stale_temp(folder, age_seconds=lake.STALE_TEMPORARY_SECONDS + 600)
    fresh = _stale_temp(folder, age_seconds=60)  # may belong to a writer that is still running

    lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(2), "run-2")

    assert not old.exists()
    assert fresh.exists()
    assert _temporaries(folder) == [fresh.name]
    assert lake.read_partition(tmp_path, "raw", "flights", DAY).num_rows == 2


def test_a_partition_holding_only_a_temporary_does_not_count_as_written(tmp_path: Path) -> None:
    folder = lake.partition_dir(tmp_path, "raw", "flights", DAY)
    folder.mkdir(parents=True)
    _stale_temp(folder, age_seconds=0)

    assert not lake.has_partition(tmp_path, "raw", "flights", DAY)
    assert lake.list_partitions(tmp_path, "raw", "flights") == []
    assert lake.list_tables(tmp_path) == {}


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["gold", "RAW", "", "../raw"])
def test_an_unknown_layer_is_refused(tmp_path: Path, layer: str) -> None:
    with pytest.raises(lake.LakeError, match="unknown lake layer"):
        lake.write_partition(tmp_path, layer, "flights", DAY, _flights(3), "run-1")
    with pytest.raises(lake.LakeError, match="unknown lake layer"):
        lake.table_files(tmp_path, layer, "flights")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("table", ["Flights", "1flights", "flights-raw", "../raw", "a b", ""])
def test_a_bad_table_name_is_refused(tmp_path: Path, table: str) -> None:
    with pytest.raises(lake.LakeError, match="lower_snake_case"):
        lake.write_partition(tmp_path, "raw", table, DAY, _flights(3), "run-1")
    with pytest.raises(lake.LakeError, match="lower_snake_case"):
        lake.read_partition(tmp_path, "raw", table, DAY)
    with pytest.raises(lake.LakeError, match="lower_snake_case"):
        lake.list_partitions(tmp_path, "raw", table)
    assert list(tmp_path.iterdir()) == []


# --- listings ---------------------------------------------------------------------------------


def test_list_partitions_reports_the_written_days_in_order(tmp_path: Path) -> None:
    assert lake.list_partitions(tmp_path, "raw", "flights") == []
    for day in (date(2013, 1, 5), date(2013, 1, 1), date(2013, 1, 3)):
        lake.write_partition(tmp_path, "raw", "flights", day, _flights(3), "run-1")

    assert lake.list_partitions(tmp_path, "raw", "flights") == [
        date(2013, 1, 1),
        date(2013, 1, 3),
        date(2013, 1, 5),
    ]
    assert lake.has_partition(tmp_path, "raw", "flights", date(2013, 1, 3))
    assert not lake.has_partition(tmp_path, "raw", "flights", date(2013, 1, 2))


def test_missing_partitions_lists_the_days_of_the_interval_not_yet_written(
    tmp_path: Path,
) -> None:
    for day in (date(2013, 1, 1), date(2013, 1, 3)):
        lake.write_partition(tmp_path, "raw", "flights", day, _flights(3), "run-1")

    interval = Interval(date(2013, 1, 1), date(2013, 1, 5))
    assert lake.missing_partitions(tmp_path, "raw", "flights", interval) == [
        date(2013, 1, 2),
        date(2013, 1, 4),
    ]
    assert lake.missing_partitions(tmp_path, "raw", "weather", interval) == list(interval.days())
    assert lake.missing_partitions(tmp_path, "raw", "flights", Interval.day(date(2013, 1, 3))) == []


def test_list_tables_reports_each_layer_with_data(tmp_path: Path) -> None:
    assert lake.list_tables(tmp_path) == {}
    assert lake.list_tables(tmp_path / "does-not-exist") == {}
    lake.write_partition(tmp_path, "raw", "weather", DAY, _flights(3), "run-1")
    lake.write_partition(tmp_path, "raw", "flights", DAY, _flights(3), "run-1")
    lake.write_partition(tmp_path, "quality", "validation_results", DAY, _flights(3), "run-1")
    lake.write_partition(tmp_path, "incoming", "flights", DAY, _flights(3), "run-1")
    (tmp_path / "raw" / "empty_table").mkdir()  # a folder without partitions is not a table
    (tmp_path / "gold" / "flights" / "dt=2013-01-02").mkdir(parents=True)  # not a lake layer
    pq.write_table(_flights(1), tmp_path / "gold" / "flights" / "dt=2013-01-02" / "data.parquet")

    assert lake.list_tables(tmp_path) == {
        "incoming": ["flights"],
        "raw": ["flights", "weather"],
        "quality": ["validation_results"],
    }


def test_delete_partition_withdraws_a_day(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "scores", "flight_delay", DAY, _flights(3), "run-1")

    assert lake.delete_partition(tmp_path, "scores", "flight_delay", DAY) is True
    assert lake.delete_partition(tmp_path, "scores", "flight_delay", DAY) is False
    assert lake.list_partitions(tmp_path, "scores", "flight_delay") == []
