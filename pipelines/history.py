"""Is the history a day's features read complete? The trailing windows need every earlier day.

A feature of day D reads the outcomes of the ``HISTORY_DAYS`` days before D. If one of them is
missing (never published) or blocked (its latest validation failed a critical check), every
trailing rate of D is silently wrong. Both stages that build features (``features`` for the
lake, ``serving`` for tomorrow's flights) ask this module first, however their run was started.
Days before ``history_start`` (the first day of the schedule) have no data by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines import tables
from pipelines.dates import Interval
from pipelines.errors import MissingUpstreamPartition, PermanentError
from pipelines.storage import lake

HISTORY_DAYS = tables.FEATURE_HISTORY_DAYS
OVERRIDE_PARAM = "allow_incomplete_history"
STAMP_COLUMN = "history_missing_days"
_STAMP_FIELD = pa.field(STAMP_COLUMN, pa.int32())
Rows = TypeVar("Rows", pa.Table, pa.RecordBatch)


@dataclass(frozen=True)
class Gaps:
    """The days of one feature day's window that are not usable, and why."""

    day: date
    missing: tuple[date, ...] = ()
    blocked: tuple[date, ...] = ()

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.blocked)

    def describe(self) -> str:
        parts = [f"{d} (blocked by validation)" for d in self.blocked]
        parts += [f"{d} (not published)" for d in self.missing]
        return ", ".join(sorted(parts))


class HistoryBlocked(PermanentError):
    """A day of the window failed validation: fix it first, or build anyway on purpose."""


class HistoryNotPublished(MissingUpstreamPartition):
    """A day of the window has not been published yet (it may still be running): retry later."""


def lake_days(days: Interval) -> Interval:
    """The days of the lake the feature SQL reads for the feature days ``days``: outcomes of the
    ``HISTORY_DAYS`` before each (and the day before those, which moving the trailing counts of
    the day before a day forward takes out: ``pipelines.trailing``), and its weather from the
    day before to the day after (the hours before a departure cross midnight). A lake connection
    over them gives the same rows."""
    return Interval(days.start - timedelta(days=HISTORY_DAYS + 1), days.end + timedelta(days=1))


def window(day: date, history_start: date) -> list[date]:
    first = max(history_start, day - timedelta(days=HISTORY_DAYS))
    return [first + timedelta(days=i) for i in range((day - first).days)]


def blocked_days(lake_root: Path, days: list[date]) -> set[date]:
    """Days whose latest validation of the day's actuals failed a critical check."""
    found = set()
    for day in days:
        path = lake.partition_file(lake_root, *tables.VALIDATION_RESULTS.address, day)
        if path is None:
            continue
        # Two columns of a small file: the samples and messages are never decoded here.
        results = pq.read_table(path, columns=["severity", "success"])
        failed = pc.and_(
            pc.equal(results.column("severity"), "critical"), pc.invert(results.column("success"))
        )
        if pc.any(failed).as_py():
            found.add(day)
    return found


def gaps(lake_root: Path, days: list[date], history_start: date) -> dict[date, Gaps]:
    """What is wrong with the window of each of ``days`` (a Gaps with count 0: nothing)."""
    span = sorted({d for day in days for d in window(day, history_start)})
    published = set(lake.list_partitions(lake_root, *tables.raw("flights").address))
    blocked = blocked_days(lake_root, span)
    found = {}
    for day in days:
        own = window(day, history_start)
        found[day] = Gaps(
            day,
            missing=tuple(d for d in own if d not in published and d not in blocked),
            blocked=tuple(d for d in own if d in blocked),
        )
    return found


def require_complete(
    lake_root: Path, days: list[date], history_start: date, allow: bool
) -> dict[date, Gaps]:
    """Each day's gaps; raises unless every window is complete or ``allow`` (the audited
    override) is set.

    Blocked days fail at once (no retry: the data must be fixed); days not published yet are a
    retryable error, so a backfill whose earlier days are still running waits for them.
    """
    found = gaps(lake_root, days, history_start)
    bad = [g for g in found.values() if g.count]
    if not bad or allow:
        return found
    first = bad[0]
    how = (
        f"Fix and rerun flights_daily for those days, then rerun this one; or set the Param "
        f"{OVERRIDE_PARAM}=true to build anyway (the rows are stamped history_missing_days)."
    )
    message = (
        f"the {HISTORY_DAYS}-day history of {first.day} is incomplete: {first.describe()}"
        + (f" (and {len(bad) - 1} more day(s) of this run)" if len(bad) > 1 else "")
        + f". Its trailing delay rates would be silently wrong. {how}"
    )
    if any(g.blocked for g in bad):
        raise HistoryBlocked(message)
    raise HistoryNotPublished(message)


def stamp(features: Rows, found: Gaps) -> Rows:
    """Rows (a table or one batch) of a feature day with how many days of their window were
    missing (0: none)."""
    column = pa.array(np.full(features.num_rows, found.count, dtype=np.int32))
    return features.append_column(_STAMP_FIELD, column)


def stamped_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of :func:`stamp`'s output, for a writer that needs it before the first batch."""
    return schema.append(_STAMP_FIELD)
