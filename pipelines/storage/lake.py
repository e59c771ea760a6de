"""The Parquet lake: ``<root>/<layer>/<table>/dt=YYYY-MM-DD/part-<id>.parquet``, under snapshots.

One writer for every partition. A write puts the rows in a new immutable file (written under a
temporary name and fsynced first: :mod:`pipelines.storage.partition_file`), and a commit makes
it the partition's file in the lake's next snapshot (:mod:`pipelines.storage.snapshots`). A
:class:`Transaction` gathers the partitions of one unit of work (a day's raw tables, validation
results and quarantine, say) into one commit, so readers see all of them or none; a plain
:func:`write_partition` is a transaction of one.
A rerun replaces, never appends; a task killed mid-way leaves the previous snapshot current.

Readers resolve a partition through a snapshot (the current one unless told otherwise), so they
never see a half-written file, and an earlier snapshot stays readable until it is vacuumed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dates import Interval
from pipelines.storage import snapshots
from pipelines.storage.partition_file import (  # noqa: F401 (re-exported: lake.ROW_GROUP, ...)
    ROW_GROUP,
    RUN_ID_COLUMN,
    PartitionWriter,
    data_schema,
    footer_metadata,
    remove_stale_temporaries,
    settle,
    stored_schema,
    temporary,
)
from pipelines.tables import LAYERS

CommitConflict = snapshots.CommitConflict
# A temporary this old belongs to a dead writer: a live one is never older.
STALE_TEMPORARY_SECONDS = snapshots.GRACE_SECONDS
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


class Transaction:
    """Partitions written now, published together by :meth:`commit` (or by leaving the block)."""

    def __init__(self, root: Path, run_id: str) -> None:
        if not run_id:
            raise LakeError("every partition write needs a run id for lineage")
        self.root, self.run_id = Path(root), run_id
        self.changes = snapshots.Changes()
        self.written: list[PartitionWritten] = []

    def write(self, layer: str, table: str, day: date, data: pa.Table) -> PartitionWritten:
        """Write ``data`` (which may be empty) as the next version of partition ``dt=day``."""
        return self.write_batches(layer, table, day, data.schema, data.to_batches())

    def write_batches(
        self,
        layer: str,
        table: str,
        day: date,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        metadata: dict[str, str] | None = None,
    ) -> PartitionWritten:
        """Stream ``batches`` (of ``schema``) into the next version of partition ``dt=day``.

        Memory stays at one batch (and one row group being encoded), however large the
        partition: a DuckDB ``fetch_record_batch`` reader or a scoring loop writes through here.
        ``metadata`` goes into the file's footer (:func:`footer_metadata` reads it back).
        """
        with self.partition_writer(layer, table, day, schema, metadata) as writer:
            for batch in batches:
                writer.write(batch)
        return self.written[-1]

    @contextlib.contextmanager
    def partition_writer(
        self,
        layer: str,
        table: str,
        day: date,
        schema: pa.Schema,
        metadata: dict[str, str] | None = None,
    ) -> Iterator[PartitionWriter]:
        """A writer of the next version of partition ``dt=day``, fed a batch at a time (so one
        stream can feed two partitions); the file is this transaction's when the block ends
        without an exception, and is gone otherwise."""
        target = self._new_file(layer, table, day)
        stored = stored_schema(schema).with_metadata(metadata)
        with PartitionWriter(stored, target, self.run_id) as writer:
            yield writer
        snapshots.fsync_dir(target.parent)
        self._put(PartitionWritten(layer, table, day, target, writer.rows))

    def adopt(self, layer: str, table: str, day: date, source: Path) -> PartitionWritten:
        """Publish every row of ``source`` (another partition's immutable file) as the next
        version of partition ``dt=day`` without writing them again: a hard link, or a copy where
        the file system has none. The rows keep the run id of the run that wrote them."""
        target = self._new_file(layer, table, day)
        try:
            os.link(source, target)
            os.utime(target)  # now: a vacuum's grace period counts from the link, not the write
        except OSError:  # another device, or no hard links: a copy, made as any write is
            tmp = temporary(target)
            shutil.copyfile(source, tmp)
            settle(tmp, target)
        snapshots.fsync_dir(target.parent)
        rows = pq.ParquetFile(target).metadata.num_rows
        return self._put(PartitionWritten(layer, table, day, target, rows))

    def _new_file(self, layer: str, table: str, day: date) -> Path:
        """A name no file of partition ``dt=day`` has, in its (created) folder."""
        folder = partition_dir(self.root, layer, table, day)
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder, STALE_TEMPORARY_SECONDS)
        return folder / f"part-{uuid.uuid4().hex}.parquet"

    def _put(self, written: PartitionWritten) -> PartitionWritten:
        """``written`` becomes the partition's file when this transaction commits."""
        rel = written.path.relative_to(self.root).as_posix()
        partitions = self.changes.put.setdefault(f"{written.layer}.{written.table}", {})
        partitions[written.day.isoformat()] = rel
        self.written.append(written)
        return written

    def read_for_update(self, layer: str, table: str, day: date) -> pa.Table | None:
        """The partition as the current snapshot has it (None: absent); the commit fails with
        ``CommitConflict`` if another commit replaces it first (for read-modify-write)."""
        path = partition_file(self.root, layer, table, day)
        rel = None if path is None else path.relative_to(self.root).as_posix()
        self.changes.expect.setdefault(f"{layer}.{table}", {})[day.isoformat()] = rel
        return None if path is None else pq.read_table(path)

    def partitions_for_update(self, layer: str, table: str) -> list[date]:
        """The table's partitions in the current snapshot; the commit fails with
        ``CommitConflict`` if another commit adds, replaces or withdraws any of them first (for
        a result folded from a whole table)."""
        layer, table = _checked(layer, table)
        name = f"{layer}.{table}"
        files = dict(snapshots.load(self.root).files(name))
        self.changes.expect_tables[name] = files
        return [date.fromisoformat(d) for d in sorted(files)]

    def delete(self, layer: str, table: str, day: date) -> None:
        """Withdraw partition ``dt=day`` in this commit (its file stays for older snapshots)."""
        _checked(layer, table)
        self.changes.delete.setdefault(f"{layer}.{table}", set()).add(day.isoformat())
        self.changes.put.get(f"{layer}.{table}", {}).pop(day.isoformat(), None)

    def commit(self) -> snapshots.Snapshot | None:
        if not self.changes:
            return None
        done = snapshots.commit(self.root, self.changes, self.run_id)
        self.changes = snapshots.Changes()
        return done


@contextlib.contextmanager
def transaction(root: Path, run_id: str) -> Iterator[Transaction]:
    """``with transaction(root, run_id) as tx: tx.write(...)``: committed only if the block ends
    without an exception, so a failure half-way publishes nothing."""
    tx = Transaction(root, run_id)
    yield tx
    tx.commit()


def write_partition(
    root: Path, layer: str, table: str, day: date, data: pa.Table, run_id: str
) -> PartitionWritten:
    """Replace partition ``dt=day`` of ``layer.table`` with ``data``, stamped with ``run_id``.

    ``data`` may be empty: the partition then holds zero rows (with the schema), which is how a
    rerun that finds no quarantined rows replaces the rows an earlier run quarantined.
    """
    with transaction(root, run_id) as tx:
        return tx.write(layer, table, day, data)


def delete_partition(root: Path, layer: str, table: str, day: date) -> bool:
    """Withdraw a partition (used when a stage must withdraw output it wrote earlier)."""
    if not has_partition(root, layer, table, day):
        return False
    with transaction(root, "delete") as tx:
        tx.delete(layer, table, day)
    return True


def partition_file(
    root: Path, layer: str, table: str, day: date, snapshot: int | None = None
) -> Path | None:
    """The file that is partition ``dt=day`` in ``snapshot`` (the current one), or None."""
    layer, table = _checked(layer, table)
    rel = snapshots.load(root, snapshot).files(f"{layer}.{table}").get(day.isoformat())
    return None if rel is None else Path(root) / rel


def read_partition(
    root: Path, layer: str, table: str, day: date, snapshot: int | None = None
) -> pa.Table:
    return pq.read_table(_existing_file(root, layer, table, day, snapshot))


def open_partition(
    root: Path, layer: str, table: str, day: date, snapshot: int | None = None
) -> pq.ParquetFile:
    """Partition ``dt=day``, to read a batch at a time (``iter_batches``) however large it is."""
    return pq.ParquetFile(_existing_file(root, layer, table, day, snapshot))


def _existing_file(root: Path, layer: str, table: str, day: date, snapshot: int | None) -> Path:
    path = partition_file(root, layer, table, day, snapshot)
    if path is None:
        raise LakeError(
            f"{layer}.{table} has no partition dt={day} in the lake at {root}; run the stage "
            "that writes it"
        )
    return path


def has_partition(root: Path, layer: str, table: str, day: date) -> bool:
    return partition_file(root, layer, table, day) is not None


def list_partitions(root: Path, layer: str, table: str, snapshot: int | None = None) -> list[date]:
    layer, table = _checked(layer, table)
    days = snapshots.load(root, snapshot).files(f"{layer}.{table}")
    return [date.fromisoformat(d) for d in sorted(days)]


def missing_partitions(root: Path, layer: str, table: str, interval: Interval) -> list[date]:
    present = set(list_partitions(root, layer, table))
    return [d for d in interval.days() if d not in present]


def table_files(
    root: Path, layer: str, table: str, days: Interval | None = None, snapshot: int | None = None
) -> list[str]:
    """Paths of the files of ``layer.table`` (within ``days``) in a snapshot, in day order.

    What DuckDB reads for a whole table (``lake_table($files)``): an explicit list, so a query
    opens only the files of one snapshot, never a temporary or an older version.
    """
    layer, table = _checked(layer, table)
    found = snapshots.load(root, snapshot).files(f"{layer}.{table}")
    return [
        str(Path(root) / rel)
        for day, rel in sorted(found.items())
        if days is None or days.start <= date.fromisoformat(day) < days.end
    ]


def list_tables(root: Path, snapshot: int | None = None) -> dict[str, list[str]]:
    """Every ``layer -> [table, ...]`` that has at least one partition, in layer order."""
    found: dict[str, list[str]] = {}
    for qualified, days in snapshots.load(root, snapshot).tables.items():
        layer, table = qualified.split(".", 1)
        if days and layer in LAYERS:
            found.setdefault(layer, []).append(table)
    return {layer: sorted(found[layer]) for layer in LAYERS if layer in found}
