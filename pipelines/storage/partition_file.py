"""One partition file of the lake: its rows stamped with the run that wrote them, written under a
hidden temporary name, fsynced and renamed into place, and what its footer says.

:mod:`pipelines.storage.lake` decides which file is a partition (through snapshots); this module
only makes and reads the files.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

RUN_ID_COLUMN = "pipeline_run_id"
# Rows per Parquet row group: readers can skip or stream a large partition a group at a time.
ROW_GROUP = 256 * 1024


def footer_metadata(path: Path) -> dict[str, str]:
    """What the writer of ``path`` put in its footer (``write_batches(metadata=...)``)."""
    found = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in found.items() if not k.startswith(b"ARROW:")}


def data_schema(path: Path) -> pa.Schema:
    """The columns of a partition file as its writer gave them (without the run id column)."""
    return pa.schema([f for f in pq.read_schema(path) if f.name != RUN_ID_COLUMN])


def stored_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as stored: no ``dt`` (the partition path carries the date), the run id last."""
    fields = [f for f in schema if f.name not in ("dt", RUN_ID_COLUMN)]
    return pa.schema([*fields, pa.field(RUN_ID_COLUMN, pa.string())])


def _stamped(batch: pa.RecordBatch, stored: pa.Schema, run_id: str) -> pa.RecordBatch:
    columns = [batch.column(f.name) for f in stored if f.name != RUN_ID_COLUMN]
    run_ids = pa.repeat(pa.scalar(run_id, pa.string()), batch.num_rows)
    return pa.RecordBatch.from_arrays([*columns, run_ids], schema=stored.remove_metadata())


class PartitionWriter:
    """One partition file, a batch at a time. Written under a hidden temporary name, fsynced, then
    renamed when the block ends: a crash leaves either nothing under the final name or the
    complete file (never referenced until committed); an exception removes it. The caller
    fsyncs the folder after (the rename is durable then)."""

    def __init__(self, stored: pa.Schema, target: Path, run_id: str) -> None:
        self.stored, self.target, self.run_id, self.rows = stored, target, run_id, 0
        self._tmp = temporary(target)
        self._writer = pq.ParquetWriter(self._tmp, stored, compression="zstd")

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            stamped = _stamped(batch, self.stored, self.run_id)
            self._writer.write_batch(stamped, row_group_size=ROW_GROUP)
            self.rows += batch.num_rows

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self._writer.close()
            if kind is None:
                settle(self._tmp, self.target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()


def temporary(target: Path) -> Path:
    """The hidden name ``target`` is written under until it is complete."""
    return target.with_name(f".{target.name}.tmp")


def settle(tmp: Path, target: Path) -> None:
    """Make the complete file ``tmp`` durable, then ``target`` (the folder is fsynced after)."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def remove_stale_temporaries(folder: Path, older_than_seconds: float) -> None:
    """Remove what writers that died left in ``folder``: temporaries older than a live writer's
    could be."""
    cutoff = time.time() - older_than_seconds
    for stale in folder.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if stale.stat().st_mtime < cutoff:
                stale.unlink()
