"""Validate and publish: ``incoming.*`` -> evidence, quarantine, and ``raw.*`` for a good day.

Validation reads ``incoming`` (where ``extract`` landed each table as the source gave it, with its
log of what could not be read), records every check in ``quality.validation_results`` (and, kept
across attempts, ``quality.validation_history``), quarantines offending rows in
``quarantine.<table>``, and only if no critical check failed replaces the day's ``raw.<table>``
partitions. A blocked day leaves its earlier ``raw`` partitions as they were.

The cross-table checks get their context from here (``_context``): the day's reference snapshots
(or the latest published ones, for the next-day feeds), the previous published snapshots, and the
rows of recent published days; the suites stay pure functions of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import tables
from pipelines.dates import Interval
from pipelines.errors import PermanentError
from pipelines.ingest import evidence
from pipelines.ingest.validation.context import REFERENCE_KEYS, DayContext, Snapshot
from pipelines.ingest.validation.engine import quote
from pipelines.settings import DuckDBResources, RowCountBounds
from pipelines.storage import lake
from pipelines.storage.sql import connect

if TYPE_CHECKING:
    from pipelines.ingest.validation.runner import TableValidation

log = logging.getLogger(__name__)

# A day's commit is redone this often when a concurrent validation of the same day wins the race.
COMMIT_TRIES = 3


class DataValidationError(PermanentError, RuntimeError):
    """A critical check failed: the named days were not published."""


# Each results table's history: the next-day feeds keep theirs apart, as they do their results.
HISTORY = {
    tables.VALIDATION_RESULTS: tables.VALIDATION_HISTORY,
    tables.NEXT_DAY_VALIDATION_RESULTS: tables.NEXT_DAY_VALIDATION_HISTORY,
}


@dataclass
class DayValidation:
    day: str
    passed: bool
    rows: dict[str, int]
    quarantined: dict[str, int]
    failures: list[str]
    warnings: list[str]
    kept_files: list[str] = field(default_factory=list)


@dataclass
class ValidationSummary:
    days: list[DayValidation] = field(default_factory=list)

    @property
    def failed_days(self) -> list[DayValidation]:
        return [d for d in self.days if not d.passed]

    def overview(self, interval: Interval) -> dict[str, Any]:
        """What a validation task returns: per day, rows, quarantined rows and warnings."""
        return {
            "interval": str(interval),
            "days": [
                {
                    "day": d.day,
                    "rows": d.rows,
                    "quarantined": d.quarantined,
                    "warnings": len(d.warnings),
                }
                for d in self.days
            ],
        }


def validate_and_publish(
    lake_root: Path,
    interval: Interval,
    run_id: str,
    bounds: RowCountBounds,
    source_tables: tuple[str, ...] = tables.SOURCE_TABLES,
    results: tables.LakeTable = tables.VALIDATION_RESULTS,
    history: tables.LakeTable | None = None,
    resources: DuckDBResources | None = None,
) -> ValidationSummary:
    """Validate each day of ``interval``; publish the days that pass, block the ones that fail.

    Every day is validated even when an earlier one fails, so one run reports all bad days.
    Raises ``DataValidationError`` naming each blocked day, table, check and count. Each group of
    tables validated together (a day's actuals, or the next-day feeds) has its own ``results``
    table in the quality layer, so one never replaces the other's evidence, and its own
    ``history`` (by default the one ``HISTORY`` pairs with ``results``). Each day's DuckDB is
    held to ``resources`` (None: DuckDB's defaults).
    """
    history = history or HISTORY[results]
    summary = ValidationSummary()
    for day in interval.days():
        summary.days.append(
            _validate_day(
                lake_root, day, run_id, bounds, source_tables, (results, history), resources
            )
        )
    failed = summary.failed_days
    if failed:
        raise DataValidationError(_failure_message(failed))
    return summary


def _validate_day(
    lake_root: Path,
    day: date,
    run_id: str,
    bounds: RowCountBounds,
    source_tables: tuple[str, ...],
    evidence_tables: tuple[tables.LakeTable, tables.LakeTable],
    resources: DuckDBResources | None = None,
) -> DayValidation:
    # Imported here: Great Expectations costs seconds to import, and only this stage needs it.
    from pipelines.ingest.validation.runner import unchanged_table, validate_table
    from pipelines.ingest.validation.suites import suite_for

    logs = {t: evidence.read_extract_log(lake_root, t, day) for t in source_tables}
    files = {t: _incoming(lake_root, t, day) for t in source_tables}
    # One DuckDB per day: the rows stay in it, under its memory limit, until they are written.
    with connect(resources) as con:
        context = _context(con, lake_root, day, bounds, files, logs)
        outcomes = []
        for t in source_tables:
            if (same := _unchanged_since(con, lake_root, t, day, files[t], logs[t])) is not None:
                since, rows = same
                schema = lake.data_schema(files[t])
                outcomes.append(unchanged_table(t, day, since, rows, schema, logs[t], con))
                continue
            suite = suite_for(t, day, bounds, context)
            outcomes.append(validate_table(t, day, files[t], suite, logs[t], con))
        return _commit(lake_root, day, run_id, outcomes, logs, evidence_tables)


def _commit(
    lake_root: Path,
    day: date,
    run_id: str,
    outcomes: list[TableValidation],
    logs: dict[str, pa.Table],
    evidence_tables: tuple[tables.LakeTable, tables.LakeTable],
) -> DayValidation:
    results, history = evidence_tables
    checked = pa.concat_tables([o.results_table() for o in outcomes])
    # One commit per day: its quarantine, its raw tables (if it passed), its results and their
    # history become visible together; a kill before the commit leaves the previous day whole.
    for tries in range(COMMIT_TRIES):
        try:
            with lake.transaction(lake_root, run_id) as tx:
                passed = _publish(tx, day, outcomes)
                tx.write(*results.address, day, checked)
                attempt = evidence.append_history(tx, history, day, checked, passed)
            break
        except lake.CommitConflict:  # another validation of the day committed meanwhile
            if tries == COMMIT_TRIES - 1:
                raise
            log.warning("validation of %s conflicted with another commit: redoing it", day)
    kept = [f for record in logs.values() for f in record["quarantined_file"].to_pylist() if f]
    day_result = DayValidation(
        day=day.isoformat(),
        passed=passed,
        rows={o.table: o.valid.count for o in outcomes},
        quarantined={o.table: o.quarantined.count for o in outcomes},
        failures=[f"{r.table}: {r.describe()}" for o in outcomes for r in o.failures],
        warnings=[f"{r.table}: {r.describe()}" for o in outcomes for r in o.warnings],
        kept_files=kept,
    )
    for warning in day_result.warnings:
        log.warning("validation warning %s %s", day, warning)
    log.info(
        "validated %s (attempt %d): %s; quarantined %s",
        day,
        attempt,
        "passed" if passed else "BLOCKED",
        day_result.quarantined,
    )
    return day_result


def _publish(tx: lake.Transaction, day: date, outcomes: list[TableValidation]) -> bool:
    """Replace the day's quarantine partitions, and its raw ones if nothing critical failed."""
    for o in outcomes:
        q = o.quarantined
        tx.write_batches(*tables.quarantine(o.table).address, day, q.schema, q.batches())
    passed = all(o.passed for o in outcomes)
    if passed:
        for o in outcomes:
            raw = tables.raw(o.table).address
            if o.valid_file is not None:  # every row passed: publish extract's file as it is
                tx.adopt(*raw, day, o.valid_file)
            elif o.unchanged_since is None:
                tx.write_batches(*raw, day, o.valid.schema, o.valid.batches())
            elif lake.has_partition(tx.root, *raw, day):  # an earlier attempt stored this day
                tx.delete(*raw, day)
    return passed


def _readable(read_log: pa.Table) -> bool:
    """Extract could read every file or query of the table (its log has no read error)."""
    return read_log["read_error"].null_count == read_log.num_rows


def _unchanged_since(
    con: duckdb.DuckDBPyConnection,
    lake_root: Path,
    table: str,
    day: date,
    file: Path,
    read_log: pa.Table,
) -> tuple[date, int] | None:
    """(day, rows) of the published snapshot before ``day`` that a readable reference ``file``
    equals in content (same columns and types, same multiset of rows), or None."""
    if table not in tables.REFERENCE_TABLES or not _readable(read_log):
        return None
    address = tables.raw(table).address
    earlier = [d for d in lake.list_partitions(lake_root, *address) if d < day]
    published = lake.partition_file(lake_root, *address, earlier[-1]) if earlier else None
    if published is None or lake.data_schema(published) != lake.data_schema(file):
        return None
    mine, theirs = (_fingerprint(con, f) for f in (file, published))
    return (earlier[-1], mine[0]) if mine == theirs else None


def _fingerprint(con: duckdb.DuckDBPyConnection, file: Path) -> tuple[int, int]:
    """(rows, sum of row hashes): equal for files with the same rows in any order."""
    relation = con.read_parquet(str(file)).project(f"* exclude ({lake.RUN_ID_COLUMN})")
    ((rows, digest),) = relation.aggregate(
        "count(*), coalesce(sum(hash(*columns(*))::hugeint), 0)"
    ).fetchall()
    return rows, int(digest)


def _incoming(lake_root: Path, table: str, day: date) -> Path:
    path = lake.partition_file(lake_root, *tables.incoming(table).address, day)
    if path is None:
        raise lake.LakeError(
            f"incoming.{table} has no partition dt={day}: run extract for that day first"
        )
    return path


def _context(
    con: duckdb.DuckDBPyConnection,
    lake_root: Path,
    day: date,
    bounds: RowCountBounds,
    files: dict[str, Path],
    logs: dict[str, pa.Table],
) -> DayContext:
    """The reference snapshots, previous snapshots and recent volumes the day is checked against.

    A reference table validated today is checked against its own new snapshot (if readable) and
    compared with the previous published one; otherwise (the next-day feeds) the latest published
    snapshot on or before the day stands in.
    """
    reference, previous = {}, {}
    for table in tables.REFERENCE_TABLES:
        if table in files:
            current = _snapshot(con, table, files[table]) if _readable(logs[table]) else None
            before = _published(con, lake_root, table, day, include_day=False)
        else:
            current, before = _published(con, lake_root, table, day, include_day=True), None
        if current is not None:
            reference[table] = current
        if before is not None:
            previous[table] = before
    recent = {
        t: _recent_rows(lake_root, t, day, bounds.volume_window_days)
        for t in files
        if t in tables.DATED_TABLES
    }
    return DayContext(reference=reference, previous=previous, recent_rows=recent)


def _snapshot(con: duckdb.DuckDBPyConnection, table: str, file: Path) -> Snapshot | None:
    key = REFERENCE_KEYS[table]
    if key not in pq.read_schema(file).names:  # a renamed key column: the schema check's finding
        return None
    column = quote(key)  # from REFERENCE_KEYS, never from the data
    # The distinct keys stay Arrow (no Python object per key): a scaled planes table is large.
    relation = con.read_parquet(str(file)).project(column + " as k")
    keys = relation.filter("k is not null").distinct().to_arrow_table()
    rows = pq.read_metadata(file).num_rows
    return Snapshot(rows=rows, keys=keys.column("k").combine_chunks().cast(pa.string()))


def _published(
    con: duckdb.DuckDBPyConnection, lake_root: Path, table: str, day: date, include_day: bool
) -> Snapshot | None:
    """The latest published snapshot of ``table`` before ``day`` (or on it, if ``include_day``)."""
    address = tables.raw(table).address
    days = [
        d
        for d in lake.list_partitions(lake_root, *address)
        if d < day or (include_day and d == day)
    ]
    if not days:
        return None
    file = lake.partition_file(lake_root, *address, days[-1])
    return None if file is None else _snapshot(con, table, file)


def _recent_rows(lake_root: Path, table: str, day: date, window_days: int) -> tuple[int, ...]:
    """Rows of each published day of ``table`` in the ``window_days`` before ``day``."""
    address = tables.raw(table).address
    start = day - timedelta(days=window_days)
    days = [d for d in lake.list_partitions(lake_root, *address) if start <= d < day]
    files = [lake.partition_file(lake_root, *address, d) for d in days]
    # The Parquet footer has the count: no partition is read.
    return tuple(pq.read_metadata(f).num_rows for f in files if f is not None)


def _failure_message(failed: list[DayValidation]) -> str:
    lines = [f"validation blocked {len(failed)} day(s); nothing downstream was written for them."]
    for d in failed:
        lines.append(f"  {d.day}:")
        lines.extend(f"    - {f}" for f in d.failures)
        lines.extend(f"    unreadable file kept at {f}" for f in d.kept_files)
    lines.append(
        "Evidence: quality.validation_results (every attempt: quality.validation_history) and "
        "quarantine.<table> for those dates. Earlier raw partitions are unchanged. Fix the source "
        "data, then clear extract and the tasks after it (or rerun the date)."
    )
    return "\n".join(lines)
