"""extract: an unreadable file is evidence (logged, kept), not an error to retry."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest import evidence
from pipelines.ingest.extract import extract
from pipelines.ingest.sources import csvfile
from pipelines.ingest.sources.base import SourceDataMissing
from pipelines.ingest.sources.files import FilesSource, generate_landing, landing_file
from pipelines.storage import lake

DAY = date(2013, 1, 2)
TABLES = ("flights", "airlines")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    generate_landing(root, Interval.day(DAY))
    return root


def test_a_readable_day_is_logged_with_its_rows(landing: Path, tmp_path: Path) -> None:
    summary = extract(FilesSource(landing), tmp_path / "lake", Interval.day(DAY), "run", TABLES)
    assert summary.unreadable == []
    record = evidence.read_extract_log(tmp_path / "lake", "flights", DAY).to_pylist()[0]
    assert (record["rows"], record["read_error"], record["source_kind"]) == (943, None, "files")


def test_an_unreadable_file_is_logged_kept_and_replaces_the_incoming_rows(
    landing: Path, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    extract(FilesSource(landing), root, Interval.day(DAY), "good", TABLES)
    path = landing_file(landing, "flights", DAY)
    damaged = path.read_bytes()[:-60]  # the last row loses its last fields
    path.write_bytes(damaged)

    summary = extract(FilesSource(landing), root, Interval.day(DAY), "bad run/1", TABLES)

    assert summary.rows == {"flights": 0, "airlines": 16}
    (problem,) = summary.unreadable
    assert problem.startswith("flights 2013-01-02:") and "line 944" in problem
    assert lake.read_partition(root, *tables.incoming("flights").address, DAY).num_rows == 0
    record = evidence.read_extract_log(root, "flights", DAY).to_pylist()[0]
    assert record["error_line"] == 944 and "Expected 19 columns" in record["read_error"]
    assert record["location"] == str(path)
    kept = Path(record["quarantined_file"])
    assert kept.read_bytes() == damaged and kept.name == path.name
    assert kept.parent.parent == evidence.quarantined_files_dir(root, "flights", DAY)
    assert kept.parent.name.endswith("_bad_run_1")  # one folder per attempt, named safely
    assert kept.is_relative_to(root / "quarantine" / "_files" / "flights" / "dt=2013-01-02")


def test_each_attempt_keeps_its_own_copy(landing: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    landing_file(landing, "flights", DAY).write_bytes(b"")
    for run in ("first", "second"):
        extract(FilesSource(landing), root, Interval.day(DAY), run, TABLES)
    attempts = sorted(
        p.name for p in evidence.quarantined_files_dir(root, "flights", DAY).iterdir()
    )
    assert [a.rsplit("_", 1)[-1] for a in attempts] == ["first", "second"]


def test_a_missing_file_still_raises_for_a_retry(landing: Path, tmp_path: Path) -> None:
    landing_file(landing, "flights", DAY).unlink()
    with pytest.raises(SourceDataMissing, match="flights"):
        extract(FilesSource(landing), tmp_path / "lake", Interval.day(DAY), "run", TABLES)


def test_a_large_file_streams_and_a_fault_deep_in_it_writes_nothing_of_it(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of 4 KiB: the 943 flights arrive in many batches, and the fault in the last one.
    monkeypatch.setattr(csvfile, "_BLOCK_BYTES", 4096)
    root = tmp_path / "lake"
    extract(FilesSource(landing), root, Interval.day(DAY), "good", TABLES)
    incoming = lake.partition_file(root, *tables.incoming("flights").address, DAY)
    assert pq.ParquetFile(incoming).metadata.num_row_groups > 10  # a batch at a time
    path = landing_file(landing, "flights", DAY)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = lines[-2].split(",")
    fields[5] = "late"  # dep_delay, on the last but one line
    lines[-2] = ",".join(fields)
    path.write_text("".join(lines), encoding="utf-8")

    summary = extract(FilesSource(landing), root, Interval.day(DAY), "bad", TABLES)

    assert summary.rows["flights"] == 0
    record = evidence.read_extract_log(root, "flights", DAY).to_pylist()[0]
    assert record["error_line"] == len(lines) - 1 and record["error_column_name"] == "dep_delay"
    assert lake.read_partition(root, *tables.incoming("flights").address, DAY).num_rows == 0
    folder = lake.partition_dir(root, *tables.incoming("flights").address, DAY)
    assert not list(folder.glob(".*.tmp"))  # the half-written file is gone
