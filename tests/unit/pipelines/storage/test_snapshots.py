"""Lake snapshots: a transaction publishes all its partitions or none, kills leave the previous
snapshot, earlier snapshots stay readable, vacuum frees only what no kept snapshot uses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.storage import lake, snapshots

DAY = date(2013, 1, 2)
REPO = Path(__file__).resolve().parents[4]


def _rows(n: int, first: int = 0) -> pa.Table:
    return pa.table({"x": pa.array(range(first, first + n), pa.int64())})


def _values(root: Path, layer: str, table: str, day: date = DAY, snapshot=None) -> list[int]:
    return lake.read_partition(root, layer, table, day, snapshot).column("x").to_pylist()


def test_a_transaction_publishes_its_partitions_together_in_one_commit(tmp_path: Path) -> None:
    with lake.transaction(tmp_path, "run-1") as tx:
        tx.write("raw", "flights", DAY, _rows(3))
        tx.write("quality", "validation_results", DAY, _rows(2))
        # Not visible before the commit.
        assert not lake.has_partition(tmp_path, "raw", "flights", DAY)
    assert snapshots.current_id(tmp_path) == 1
    assert _values(tmp_path, "raw", "flights") == [0, 1, 2]
    assert _values(tmp_path, "quality", "validation_results") == [0, 1]


def test_a_failure_inside_a_transaction_publishes_nothing(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _rows(3), "run-1")
    with (
        pytest.raises(RuntimeError, match="validation crashed"),
        lake.transaction(tmp_path, "run-2") as tx,
    ):
        tx.write("raw", "flights", DAY, _rows(5, 100))
        raise RuntimeError("validation crashed half-way")
    assert _values(tmp_path, "raw", "flights") == [0, 1, 2]
    assert snapshots.current_id(tmp_path) == 1


def test_an_earlier_snapshot_stays_readable_time_travel(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "scores", "flight_delay_predictions", DAY, _rows(2), "night-1")
    first = snapshots.current_id(tmp_path)
    lake.write_partition(tmp_path, "scores", "flight_delay_predictions", DAY, _rows(4, 9), "rerun")

    assert _values(tmp_path, "scores", "flight_delay_predictions") == [9, 10, 11, 12]
    assert _values(tmp_path, "scores", "flight_delay_predictions", snapshot=first) == [0, 1]
    assert snapshots.load(tmp_path, first).run_id == "night-1"
    assert snapshots.list_ids(tmp_path) == [1, 2]


def test_a_withdrawn_partition_is_gone_from_the_snapshot_but_not_from_the_past(
    tmp_path: Path,
) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _rows(2), "run-1")
    assert lake.delete_partition(tmp_path, "raw", "flights", DAY)
    assert lake.list_partitions(tmp_path, "raw", "flights") == []
    assert _values(tmp_path, "raw", "flights", snapshot=1) == [0, 1]


def test_vacuum_keeps_the_newest_snapshots_and_the_files_they_use(tmp_path: Path) -> None:
    for i in range(4):
        lake.write_partition(tmp_path, "raw", "flights", DAY, _rows(1, i), f"run-{i}")
    folder = lake.partition_dir(tmp_path, "raw", "flights", DAY)
    assert len(list(folder.glob("*.parquet"))) == 4

    # Within the grace period nothing is deleted: a writer may be about to commit a file.
    assert snapshots.vacuum(tmp_path, keep=2).files_deleted == 0
    summary = snapshots.vacuum(tmp_path, keep=2, grace_seconds=0)

    assert snapshots.list_ids(tmp_path) == [3, 4]
    assert summary.files_deleted == 2 and len(list(folder.glob("*.parquet"))) == 2
    assert _values(tmp_path, "raw", "flights") == [3]
    assert _values(tmp_path, "raw", "flights", snapshot=3) == [2]
    with pytest.raises(LookupError, match="snapshot 1 is not kept"):
        lake.read_partition(tmp_path, "raw", "flights", DAY, snapshot=1)


def test_a_lake_written_before_snapshots_is_read_and_carried_into_the_first_commit(
    tmp_path: Path,
) -> None:
    legacy = tmp_path / "raw" / "flights" / f"dt={DAY}"
    legacy.mkdir(parents=True)
    import pyarrow.parquet as pq

    pq.write_table(_rows(2), legacy / "data.parquet")
    assert lake.list_partitions(tmp_path, "raw", "flights") == [DAY]

    lake.write_partition(tmp_path, "raw", "flights", DAY + timedelta(days=1), _rows(1), "new")
    assert lake.list_partitions(tmp_path, "raw", "flights") == [DAY, DAY + timedelta(days=1)]
    assert _values(tmp_path, "raw", "flights") == [0, 1]


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import date, timedelta
    from pathlib import Path
    import pyarrow as pa
    from pipelines.storage import lake
    root, name = Path(sys.argv[1]), sys.argv[2]
    for i in range(15):
        lake.write_partition(root, "raw", name, date(2013, 1, 1) + timedelta(days=i),
                             pa.table({"x": [i]}), name)
    """
)


def test_concurrent_writers_lose_no_commit(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name], cwd=REPO)
        for name in ("flights", "weather")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    assert snapshots.current_id(tmp_path) == 30
    for name in ("flights", "weather"):
        assert len(lake.list_partitions(tmp_path, "raw", name)) == 15


# A child that commits two partitions of one day and SIGKILLs itself at the n-th file system
# step (os.replace: the data files and the manifest; fsync: every flush to disk).
_KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from pathlib import Path
    import pyarrow as pa
    from pipelines.storage import lake
    root, step, at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    seen = [0]
    real = getattr(os, step)
    def die_at_n(*args, **kwargs):
        seen[0] += 1
        if seen[0] == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(os, step, die_at_n)
    with lake.transaction(root, "new") as tx:
        tx.write("raw", "flights", date(2013, 1, 2), pa.table({"x": [7, 8, 9]}))
        tx.write("quality", "validation_results", date(2013, 1, 2), pa.table({"x": [7]}))
    """
)
# Two data files (temporary name, then replace) and the commit (manifest, then CURRENT).
KILL_POINTS = [("replace", n) for n in range(1, 5)] + [("fsync", n) for n in range(1, 9)]
# The child dies just before the step it counts: the 4th replace (of CURRENT) is the commit
# point, so every step up to it leaves the old day; the 8th fsync flushes the folder after it.
EARLY_POINTS = {*(("replace", n) for n in range(1, 5)), *(("fsync", n) for n in range(1, 8))}
LATE_POINTS = {("fsync", 8)}


@pytest.mark.parametrize(("step", "at"), KILL_POINTS)
def test_a_kill_at_any_step_leaves_the_old_day_or_the_new_day_never_a_mix(
    tmp_path: Path, step: str, at: int
) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _rows(2), "old")
    lake.write_partition(tmp_path, "quality", "validation_results", DAY, _rows(1), "old")
    started = time.monotonic()

    child = subprocess.run(
        [sys.executable, "-c", _KILLED, str(tmp_path), step, str(at)], cwd=REPO, timeout=60
    )

    assert child.returncode in (-9, 0), child.returncode
    seen = (_values(tmp_path, "raw", "flights"), _values(tmp_path, "quality", "validation_results"))
    assert seen in (([0, 1], [0]), ([7, 8, 9], [7])), seen
    if child.returncode == 0 or (step, at) in LATE_POINTS:
        assert seen == ([7, 8, 9], [7])  # finished, or killed after the commit point
    elif (step, at) in EARLY_POINTS:
        assert seen == ([0, 1], [0])  # killed before CURRENT moved: the old day, whole
    # The retry completes the day exactly as an uninterrupted run does.
    with lake.transaction(tmp_path, "retry") as tx:
        tx.write("raw", "flights", DAY, pa.table({"x": [7, 8, 9]}))
        tx.write("quality", "validation_results", DAY, pa.table({"x": [7]}))
    assert _values(tmp_path, "raw", "flights") == [7, 8, 9]
    assert time.monotonic() - started < 60
    referenced = {f for days in snapshots.load(tmp_path).tables.values() for f in days.values()}
    assert all(Path(tmp_path / f).is_file() and not f.endswith(".tmp") for f in referenced)


def _leave_an_unpublished_manifest(root: Path) -> None:
    """What a commit killed between writing its manifest and replacing CURRENT leaves."""
    current = snapshots.current_id(root)
    text = (root / "_snapshots" / f"{current:010d}.json").read_text()
    (root / "_snapshots" / f"{current + 1:010d}.json").write_text(
        text.replace(f'"id": {current},', f'"id": {current + 1},')
    )


def test_vacuum_never_keeps_a_manifest_that_was_not_published(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "raw", "flights", DAY, _rows(2), "run-1")
    _leave_an_unpublished_manifest(tmp_path)

    snapshots.vacuum(tmp_path, keep=1, grace_seconds=0)

    assert snapshots.list_ids(tmp_path) == [1]
    assert _values(tmp_path, "raw", "flights") == [0, 1]
    lake.write_partition(tmp_path, "raw", "weather", DAY, _rows(1), "run-2")  # still commits
    assert snapshots.current_id(tmp_path) == 2


def test_vacuum_of_a_lake_from_before_snapshots_deletes_none_of_its_files(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    legacy = tmp_path / "raw" / "flights" / f"dt={DAY}"
    legacy.mkdir(parents=True)
    pq.write_table(_rows(2), legacy / "data.parquet")
    (tmp_path / "_snapshots").mkdir()
    (tmp_path / "_snapshots" / "0000000001.json").write_text(
        '{"id": 1, "parent": null, "committed_at": "", "run_id": "killed", "tables": {}}'
    )

    snapshots.vacuum(tmp_path, keep=5, grace_seconds=0)

    assert (legacy / "data.parquet").exists()
    assert _values(tmp_path, "raw", "flights") == [0, 1]


def test_a_read_modify_write_that_lost_the_race_conflicts_instead_of_losing_an_update(
    tmp_path: Path,
) -> None:
    lake.write_partition(tmp_path, "quality", "validation_history", DAY, _rows(1), "attempt-1")
    first, second = lake.Transaction(tmp_path, "a"), lake.Transaction(tmp_path, "b")
    for tx, value in ((first, 10), (second, 20)):
        earlier = tx.read_for_update("quality", "validation_history", DAY)
        assert earlier is not None
        rows = pa.concat_tables([earlier.select(["x"]), _rows(1, value)])
        tx.write("quality", "validation_history", DAY, rows)
    first.commit()
    with pytest.raises(lake.CommitConflict, match="changed since it was read"):
        second.commit()
    assert _values(tmp_path, "quality", "validation_history") == [0, 10]


def test_a_commit_whose_file_vanished_conflicts(tmp_path: Path) -> None:
    tx = lake.Transaction(tmp_path, "slow")
    written = tx.write("raw", "flights", DAY, _rows(1))
    written.path.unlink()  # what a vacuum after the grace period would do to a stalled writer
    with pytest.raises(lake.CommitConflict, match="vanished"):
        tx.commit()
    assert not lake.has_partition(tmp_path, "raw", "flights", DAY)


def test_a_result_folded_from_a_whole_table_conflicts_when_a_day_is_added_meanwhile(
    tmp_path: Path,
) -> None:
    lake.write_partition(tmp_path, "monitoring", "findings_daily", DAY, _rows(1), "first")
    slow, fast = lake.Transaction(tmp_path, "slow"), lake.Transaction(tmp_path, "fast")
    assert slow.partitions_for_update("monitoring", "findings_daily") == [DAY]
    later = DAY + timedelta(days=1)
    fast.write("monitoring", "findings_daily", later, _rows(1))  # a day slow never saw
    fast.commit()
    slow.write("monitoring", "alerts", DAY, _rows(1))
    with pytest.raises(lake.CommitConflict, match=r"monitoring\.findings_daily changed"):
        slow.commit()
    assert not lake.has_partition(tmp_path, "monitoring", "alerts", DAY)
    again = lake.Transaction(tmp_path, "slow")
    assert again.partitions_for_update("monitoring", "findings_daily") == [DAY, later]
    again.write("monitoring", "alerts", DAY, _rows(1))
    again.commit()  # folded on what is there now: no conflict
