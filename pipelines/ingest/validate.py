"""Validate and publish: ``incoming.*`` -> evidence, quarantine, and ``raw.*`` for a good day.

Validation reads ``incoming`` (where ``extract`` landed each table as the source gave it), records
every check in ``quality.validation_results``, quarantines offending rows in
``quarantine.<table>``, and only if no critical check failed replaces the day's ``raw.<table>``
partitions. A blocked day leaves its earlier ``raw`` partitions as they were.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines import tables
from pipelines.dates import Interval
from pipelines.errors import PermanentError
from pipelines.settings import RowCountBounds
from pipelines.storage import lake

log = logging.getLogger(__name__)


class DataValidationError(PermanentError, RuntimeError):
    """A critical check failed: the named days were not published."""


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
) -> ValidationSummary:
    """Validate each day of ``interval``; publish the days that pass, block the ones that fail.

    Every day is validated even when an earlier one fails, so one run reports all bad days.
    Raises ``DataValidationError`` naming each blocked day, table, check and count. Each group of
    tables validated together (a day's actuals, or the next-day feeds) has its own ``results``
    table in the quality layer, so one never replaces the other's evidence.
    """
    summary = ValidationSummary()
    for day in interval.days():
        summary.days.append(_validate_day(lake_root, day, run_id, bounds, source_tables, results))
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
    results: tables.LakeTable,
) -> DayValidation:
    # Imported here: Great Expectations costs seconds to import, and only this stage needs it.
    from pipelines.ingest.validation.runner import validate_table
    from pipelines.ingest.validation.suites import suite_for

    outcomes = []
    for table in source_tables:
        incoming = lake.read_partition(lake_root, *tables.incoming(table).address, day)
        incoming = incoming.drop_columns([lake.RUN_ID_COLUMN])
        outcomes.append(validate_table(table, day, incoming, suite_for(table, day, bounds)))

    for o in outcomes:
        lake.write_partition(
            lake_root, *tables.quarantine(o.table).address, day, o.quarantined_rows, run_id
        )
    passed = all(o.passed for o in outcomes)
    if passed:
        for o in outcomes:
            lake.write_partition(lake_root, *tables.raw(o.table).address, day, o.valid_rows, run_id)
    # Results last: a "passed" record exists only once every raw table of the day is replaced.
    # (Each table swaps atomically; a task killed between tables leaves the day mixed until rerun.)
    evidence = pa.concat_tables([o.results_table() for o in outcomes])
    lake.write_partition(lake_root, *results.address, day, evidence, run_id)
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
