"""Stages: extract source tables into the lake, then validate and publish them as ``raw.*``.

Extraction lands each table of each day in the ``incoming`` layer, exactly as the source gave it.
Validation reads ``incoming``, records every check in ``quality.validation_results``, quarantines
offending rows in ``quarantine.<table>``, and only if no critical check failed replaces the day's
``raw.<table>`` partitions. A blocked day leaves its earlier ``raw`` partitions as they were.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from pipelines import lake
from pipelines.dates import Interval
from pipelines.sources import Source
from pipelines.sources.schemas import SOURCE_TABLES
from pipelines.validation import RowCountBounds

log = logging.getLogger(__name__)

# Each group of tables validated together keeps its own evidence table in the quality layer.
RESULTS = "validation_results"
NEXT_DAY_RESULTS = "next_day_validation_results"


class DataValidationError(RuntimeError):
    """A critical check failed: the named days were not published."""


@dataclass
class ExtractSummary:
    source: str
    rows: dict[str, int] = field(default_factory=dict)


@dataclass
class DayValidation:
    day: str
    passed: bool
    rows: dict[str, int]
    quarantined: dict[str, int]
    failures: list[str]
    warnings: list[str]


@dataclass
class ValidationSummary:
    days: list[DayValidation] = field(default_factory=list)

    @property
    def failed_days(self) -> list[DayValidation]:
        return [d for d in self.days if not d.passed]


def extract(
    source: Source,
    lake_root: Path,
    interval: Interval,
    run_id: str,
    tables: tuple[str, ...] = SOURCE_TABLES,
) -> ExtractSummary:
    """Copy every table of every day of ``interval`` from ``source`` to ``incoming``."""
    summary = ExtractSummary(source=source.kind)
    for day in interval.days():
        for table in tables:
            data = source.extract(table, day)
            written = lake.write_partition(lake_root, "incoming", table, day, data, run_id)
            summary.rows[table] = summary.rows.get(table, 0) + written.rows
    log.info("extracted %s from %s source: %s", interval, source.kind, summary.rows)
    return summary


def validate_and_publish(
    lake_root: Path,
    interval: Interval,
    run_id: str,
    bounds: RowCountBounds | None = None,
    tables: tuple[str, ...] = SOURCE_TABLES,
    results_table: str = RESULTS,
) -> ValidationSummary:
    """Validate each day of ``interval``; publish the days that pass, block the ones that fail.

    Every day is validated even when an earlier one fails, so one run reports all bad days.
    Raises ``DataValidationError`` naming each blocked day, table, check and count. Each group of
    tables validated together (a day's actuals, or the next-day feeds) has its own
    ``quality.<results_table>``, so one never replaces the other's evidence.
    """
    bounds = bounds or RowCountBounds()
    summary = ValidationSummary()
    for day in interval.days():
        summary.days.append(_validate_day(lake_root, day, run_id, bounds, tables, results_table))
    failed = summary.failed_days
    if failed:
        raise DataValidationError(_failure_message(failed))
    return summary


def _validate_day(
    lake_root: Path,
    day: date,
    run_id: str,
    bounds: RowCountBounds,
    tables: tuple[str, ...],
    results_table: str,
) -> DayValidation:
    # Imported here: Great Expectations costs seconds to import, and only this stage needs it.
    from pipelines.validation.runner import validate_table
    from pipelines.validation.suites import suite_for

    outcomes = []
    for table in tables:
        incoming = lake.read_partition(lake_root, "incoming", table, day)
        incoming = incoming.drop_columns([lake.RUN_ID_COLUMN])
        outcomes.append(validate_table(table, day, incoming, suite_for(table, day, bounds)))

    for o in outcomes:
        lake.write_partition(lake_root, "quarantine", o.table, day, o.quarantined_rows, run_id)
    passed = all(o.passed for o in outcomes)
    if passed:
        for o in outcomes:
            lake.write_partition(lake_root, "raw", o.table, day, o.valid_rows, run_id)
    # Results last: a "passed" record exists only once every raw table of the day is replaced.
    # (Each table swaps atomically; a task killed between tables leaves the day mixed until rerun.)
    results = pa.concat_tables([o.results_table() for o in outcomes])
    lake.write_partition(lake_root, "quality", results_table, day, results, run_id)
    day_result = DayValidation(
        day=day.isoformat(),
        passed=passed,
        rows={o.table: o.valid_rows.num_rows for o in outcomes},
        quarantined={o.table: o.quarantined_rows.num_rows for o in outcomes},
        failures=[f"{r.table}: {r.describe()}" for o in outcomes for r in o.failures],
        warnings=[f"{r.table}: {r.describe()}" for o in outcomes for r in o.warnings],
    )
    for warning in day_result.warnings:
        log.warning("validation warning %s %s", day, warning)
    log.info(
        "validated %s: %s; quarantined %s",
        day,
        "passed" if passed else "BLOCKED",
        day_result.quarantined,
    )
    return day_result


def _failure_message(failed: list[DayValidation]) -> str:
    lines = [f"validation blocked {len(failed)} day(s); nothing downstream was written for them."]
    for d in failed:
        lines.append(f"  {d.day}:")
        lines.extend(f"    - {f}" for f in d.failures)
    lines.append(
        "Evidence: quality.validation_results and quarantine.<table> for those dates. Earlier raw "
        "partitions are unchanged. Fix the source data, then clear this task (or rerun the date)."
    )
    return "\n".join(lines)
