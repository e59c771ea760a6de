"""Evidence the intake keeps besides the checks: extract's log, unreadable files, every attempt.

* ``incoming.<table>_extract_log``: one row per table and day, written by extract: the rows read, or
  why the source could not be read (the reader's message, line and column) and where the file was
  kept. Validation runs ``schema.readable`` on it.
* ``<lake>/quarantine/_files/<table>/dt=<day>/<UTC time>_<run>/<file>``: a byte-for-byte copy of a
  file that could not be read, one folder per attempt, so a later upstream fix cannot erase what was
  delivered.
* ``quality.validation_history``: the results of every validation attempt of a day, numbered; the
  results table holds the latest attempt only.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import tables
from pipelines.ingest.sources.base import UnreadableSourceData
from pipelines.storage import lake

EXTRACT_LOG_SCHEMA = pa.schema(
    [
        ("table_name", pa.string()),
        ("source_kind", pa.string()),
        ("rows", pa.int64()),
        ("read_error", pa.string()),
        ("location", pa.string()),
        ("error_line", pa.int64()),
        ("error_column", pa.int64()),
        ("error_column_name", pa.string()),
        ("quarantined_file", pa.string()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)
HISTORY_COLUMNS = ("attempt", "attempt_run_id", "validated_at", "day_passed")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def extract_log(
    table: str,
    source_kind: str,
    rows: int,
    failure: UnreadableSourceData | None = None,
    kept: Path | None = None,
) -> pa.Table:
    """The one-row record of extracting ``table`` for a day."""
    row = {
        "table_name": table,
        "source_kind": source_kind,
        "rows": rows,
        "read_error": None if failure is None else failure.describe(),
        "location": None if failure is None else failure.location,
        "error_line": None if failure is None else failure.line,
        "error_column": None if failure is None else failure.column,
        "error_column_name": None if failure is None else failure.column_name,
        "quarantined_file": None if kept is None else str(kept),
        "extracted_at": datetime.now(UTC),
    }
    return pa.Table.from_pylist([row], schema=EXTRACT_LOG_SCHEMA)


def read_extract_log(lake_root: Path, table: str, day: date) -> pa.Table:
    """Extract's record of ``table`` on ``day``; a readable record if extract predates the log."""
    address = tables.extract_log(table).address
    if not lake.has_partition(lake_root, *address, day):
        return extract_log(table, "unknown", -1)
    return lake.read_partition(lake_root, *address, day).select(EXTRACT_LOG_SCHEMA.names)


def quarantine_file(lake_root: Path, table: str, day: date, run_id: str, file: Path) -> Path:
    """Copy ``file`` into the file quarantine (a new folder per attempt); returns the copy."""
    attempt = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}_{_UNSAFE.sub('_', run_id)}"
    folder = quarantined_files_dir(lake_root, table, day) / attempt
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file.name
    tmp = folder / f".{file.name}.tmp"
    shutil.copyfile(file, tmp)  # then rename: a reader never finds half a copy
    os.replace(tmp, target)
    return target


def quarantined_files_dir(lake_root: Path, table: str, day: date) -> Path:
    quarantine = Path(lake_root) / tables.quarantine(table).layer
    return quarantine / tables.QUARANTINED_FILES / table / f"dt={day.isoformat()}"


def append_history(
    tx: lake.Transaction,
    history: tables.LakeTable,
    day: date,
    results: pa.Table,
    passed: bool,
) -> int:
    """Add this attempt's ``results`` to the day's history partition; returns its number.

    ``pipeline_run_id`` of the partition is the last writer's (the lake stamps every row), so each
    row keeps its own attempt's run in ``attempt_run_id``.
    """
    earlier = _earlier_attempts(tx, history, day)
    attempt = 1 if earlier.num_rows == 0 else int(pc.max(earlier["attempt"]).as_py()) + 1
    rows = results
    for name, value, kind in (
        ("attempt", attempt, pa.int64()),
        ("attempt_run_id", tx.run_id, pa.string()),
        ("validated_at", datetime.now(UTC), pa.timestamp("us", tz="UTC")),
        ("day_passed", passed, pa.bool_()),
    ):
        rows = rows.append_column(name, pa.array([value] * results.num_rows, type=kind))
    combined = pa.concat_tables([earlier, rows], promote_options="default")
    tx.write(*history.address, day, combined)
    return attempt


def _earlier_attempts(tx: lake.Transaction, history: tables.LakeTable, day: date) -> pa.Table:
    # Read for update: if another validation of the day commits first, this commit conflicts
    # (and is redone) instead of silently dropping that attempt.
    earlier = tx.read_for_update(*history.address, day)
    if earlier is None:
        return pa.table({"attempt": pa.array([], type=pa.int64())})
    return earlier.drop_columns(
        [c for c in (lake.RUN_ID_COLUMN, "dt") if c in earlier.column_names]
    )
