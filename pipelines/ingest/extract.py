"""Extract: copy source tables into the lake's ``incoming`` layer, as the source gave them.

A table the source has not published yet (``SourceDataMissing``) or a connection fault raises, so
the task retries. A table the source published but that cannot be read (``UnreadableSourceData``)
does not raise: a retry would read the same bytes. Extract records the failure in
``incoming.<table>_extract_log``, keeps a copy of the file in the file quarantine and writes an
empty ``incoming.<table>``; validation then blocks the day with that evidence (``schema.readable``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest import evidence
from pipelines.ingest.sources.base import Source, UnreadableSourceData
from pipelines.ingest.sources.schemas import empty
from pipelines.storage import lake

log = logging.getLogger(__name__)


@dataclass
class ExtractSummary:
    source: str
    rows: dict[str, int] = field(default_factory=dict)
    # "<table> <day>: <why>" for each table the source delivered but could not be read.
    unreadable: list[str] = field(default_factory=list)


def extract(
    source: Source,
    lake_root: Path,
    interval: Interval,
    run_id: str,
    source_tables: tuple[str, ...] = tables.SOURCE_TABLES,
) -> ExtractSummary:
    """Copy every table of every day of ``interval`` from ``source`` to ``incoming``."""
    summary = ExtractSummary(source=source.kind)
    for day in interval.days():
        # One commit per day: validation never sees some tables of a day from another attempt.
        with lake.transaction(lake_root, run_id) as tx:
            for table in source_tables:
                rows, failure = _extract_table(source, tx, table, day)
                summary.rows[table] = summary.rows.get(table, 0) + rows
                if failure is not None:
                    summary.unreadable.append(f"{table} {day}: {failure}")
    log.info("extracted %s from %s source: %s", interval, source.kind, summary.rows)
    return summary


def _extract_table(
    source: Source, tx: lake.Transaction, table: str, day: date
) -> tuple[int, str | None]:
    """Rows written to ``incoming.<table>`` for ``day``, and why it was unreadable (if it was)."""
    failure, kept = None, None
    address = tables.incoming(table).address
    try:
        rows = _rows_of(source, table, day)
        # The data and its log commit together: a fault found mid-stream writes nothing.
        written = tx.write_batches(*address, day, rows.schema, rows)
    except UnreadableSourceData as exc:
        failure = exc
        kept = None if exc.file is None else _keep(tx.root, table, day, tx.run_id, exc.file)
        log.error(
            "%s of %s cannot be read (validation will block the day): %s; file kept at %s",
            table,
            day,
            exc.describe(),
            kept,
        )
        # An empty incoming partition replaces whatever an earlier attempt extracted.
        written = tx.write(*address, day, empty(table))
    record = evidence.extract_log(table, source.kind, written.rows, failure, kept)
    tx.write(*tables.extract_log(table).address, day, record)
    return written.rows, None if failure is None else failure.describe()


def _rows_of(source: Source, table: str, day: date) -> pa.RecordBatchReader:
    """The table's rows a batch at a time: the source's stream, or its table in batches."""
    stream = getattr(source, "stream", None)
    if stream is not None:
        return stream(table, day)
    data = source.extract(table, day)
    return pa.RecordBatchReader.from_batches(data.schema, data.to_batches())


def _keep(lake_root: Path, table: str, day: date, run_id: str, file: Path) -> Path | None:
    try:
        return evidence.quarantine_file(lake_root, table, day, run_id, file)
    except FileNotFoundError:  # upstream withdrew it meanwhile: the log still says what failed
        log.warning("%s vanished before it could be kept in the file quarantine", file)
        return None
