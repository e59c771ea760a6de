"""The Parquet lake: ``<root>/<layer>/<table>/dt=YYYY-MM-DD/data.parquet``.

One writer for every partition. Each partition is exactly one file, written under a hidden
temporary name in the partition folder and moved over ``data.parquet`` with ``os.replace``, which
is atomic on POSIX file systems: a reader sees the old file or the new one, never half of either;
a rerun replaces; a task killed mid-write leaves the previous partition intact (and a ``.tmp`` file
that a later write of that partition removes). Readers glob ``*.parquet``, so they never read
temporary files.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dates import Interval
from pipelines.tables import LAYERS

RUN_ID_COLUMN = "pipeline_run_id"
PARTITION_FILE = "data.parquet"
STALE_TEMPORARY_SECONDS = 3600
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class LakeError(RuntimeError):
    """A lake path or partition is not what the caller asked for."""


@dataclass(frozen=True)
class PartitionWritten:
    layer: str
    table: str
    day: date
    path: Path
    rows: int


def _checked(layer: str, table: str) -> tuple[str, str]:
    if layer not in LAYERS:
        raise LakeError(f"unknown lake layer {layer!r}; expected one of {', '.join(LAYERS)}")
    if not _NAME.match(table):
        raise LakeError(f"table name {table!r} must be lower_snake_case")
    return layer, table


def table_dir(root: Path, layer: str, table: str) -> Path:
    layer, table = _checked(layer, table)
    return Path(root) / layer / table


def partition_dir(root: Path, layer: str, table: str, day: date) -> Path:
    return table_dir(root, layer, table) / f"dt={day.isoformat()}"


def table_glob(root: Path, layer: str, table: str) -> str:
    """The glob DuckDB reads for a whole table (hive partition column ``dt``)."""
    return str(table_dir(root, layer, table) / "dt=*" / "*.parquet")


def write_partition(
    root: Path, layer: str, table: str, day: date, data: pa.Table, run_id: str
) -> PartitionWritten:
    """Replace partition ``dt=day`` of ``layer.table`` with ``data``, stamped with ``run_id``.

    ``data`` may be empty: the partition then holds zero rows (with the schema), which is how a
    rerun that finds no quarantined rows replaces the rows an earlier run quarantined.
    """
    if "dt" in data.column_names:
        data = data.drop_columns(["dt"])  # the partition path carries the date
    data = _stamp_run_id(data, run_id)
    folder = partition_dir(root, layer, table, day)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder)
    target = folder / PARTITION_FILE
    tmp = folder / f".{PARTITION_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(data, tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(folder)
    return PartitionWritten(layer, table, day, target, data.num_rows)


def delete_partition(root: Path, layer: str, table: str, day: date) -> bool:
    """Remove a partition (used when a stage must withdraw output it wrote earlier)."""
    folder = partition_dir(root, layer, table, day)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True


def read_partition(root: Path, layer: str, table: str, day: date) -> pa.Table:
    path = partition_dir(root, layer, table, day) / PARTITION_FILE
    if not path.exists():
        raise LakeError(
            f"{layer}.{table} has no partition dt={day} at {path}; run the stage that writes it"
        )
    return pq.read_table(path)


def has_partition(root: Path, layer: str, table: str, day: date) -> bool:
    return (partition_dir(root, layer, table, day) / PARTITION_FILE).exists()


def list_partitions(root: Path, layer: str, table: str) -> list[date]:
    folder = table_dir(root, layer, table)
    if not folder.exists():
        return []
    days = [
        date.fromisoformat(p.name.removeprefix("dt="))
        for p in folder.glob("dt=*")
        if (p / PARTITION_FILE).exists()
    ]
    return sorted(days)


def missing_partitions(root: Path, layer: str, table: str, interval: Interval) -> list[date]:
    return [d for d in interval.days() if not has_partition(root, layer, table, d)]


def list_tables(root: Path) -> dict[str, list[str]]:
    """Every ``layer -> [table, ...]`` that has at least one partition."""
    found: dict[str, list[str]] = {}
    for layer in LAYERS:
        layer_dir = Path(root) / layer
        if not layer_dir.is_dir():
            continue
        tables = sorted(
            t.name
            for t in layer_dir.iterdir()
            if t.is_dir() and _NAME.match(t.name) and any(t.glob(f"dt=*/{PARTITION_FILE}"))
        )
        if tables:
            found[layer] = tables
    return found


def _stamp_run_id(data: pa.Table, run_id: str) -> pa.Table:
    if not run_id:
        raise LakeError("every partition write needs a run id for lineage")
    column = pa.array([run_id] * data.num_rows, type=pa.string())
    if RUN_ID_COLUMN in data.column_names:
        return data.set_column(data.column_names.index(RUN_ID_COLUMN), RUN_ID_COLUMN, column)
    return data.append_column(RUN_ID_COLUMN, column)


def _remove_stale_temporaries(folder: Path) -> None:
    # Only files old enough to belong to a dead writer: a live one is never older than this.
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for stale in folder.glob(f".{PARTITION_FILE}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if stale.stat().st_mtime < cutoff:
                stale.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
