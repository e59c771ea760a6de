"""Run a suite on one day of one table with Great Expectations (GX core, in-process).

Returns the outcome as data: one result row per check for ``quality.validation_results``, the rows
to quarantine (with the reason), and the rows fit to publish. The caller decides what to write.

Readability comes first: ``schema.readable`` runs on extract's log of the table (one row, with the
reader's error if any). A table that could not be read is judged by that check alone, since there
are no rows to run the suite on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import great_expectations as gx
import pandas as pd
import pyarrow as pa
from great_expectations.data_context.types.base import ProgressBarsConfig

from pipelines.ingest.validation.checks import Check, readable

log = logging.getLogger(__name__)

SAMPLE_SIZE = 10
QUARANTINE_REASON = "quarantine_reason"

RESULT_SCHEMA = pa.schema(
    [
        ("table_name", pa.string()),
        ("check_name", pa.string()),
        ("expectation_type", pa.string()),
        ("column_names", pa.string()),
        ("severity", pa.string()),
        ("success", pa.bool_()),
        ("element_count", pa.int64()),
        ("unexpected_count", pa.int64()),
        ("unexpected_percent", pa.float64()),
        ("observed_value", pa.string()),
        ("unexpected_sample", pa.string()),
        ("description", pa.string()),
    ]
)


@dataclass(frozen=True)
class CheckResult:
    table: str
    check: Check
    expectation_type: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    observed_value: str | None
    unexpected_sample: list[Any]

    @property
    def blocks(self) -> bool:
        return self.check.severity == "critical" and not self.success

    def describe(self) -> str:
        what = f"{self.check.name} ({self.expectation_type}: {self.check.description})"
        if self.unexpected_count is not None:
            counts = f"{self.unexpected_count} of {self.element_count} {self.check.unit} unexpected"
            sample = f", e.g. {self.unexpected_sample[:5]}" if self.unexpected_sample else ""
            return f"{what}: {counts}{sample}"
        offending = (
            f" ({', '.join(map(str, self.unexpected_sample))})" if self.unexpected_sample else ""
        )
        return f"{what}: observed {self.observed_value}{offending}"


@dataclass(frozen=True)
class TableValidation:
    """The outcome for one table on one day."""

    table: str
    day: date
    results: list[CheckResult]
    valid_rows: pa.Table
    quarantined_rows: pa.Table

    @property
    def passed(self) -> bool:
        return not any(r.blocks for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.blocks]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.check.severity == "warning" and not r.success]

    def results_table(self) -> pa.Table:
        rows = [
            {
                "table_name": self.table,
                "check_name": r.check.name,
                "expectation_type": r.expectation_type,
                "column_names": ",".join(r.check.columns) or None,
                "severity": r.check.severity,
                "success": r.success,
                "element_count": r.element_count,
                "unexpected_count": r.unexpected_count,
                "unexpected_percent": r.unexpected_percent,
                "observed_value": r.observed_value,
                "unexpected_sample": json.dumps(r.unexpected_sample, default=str),
                "description": r.check.description,
            }
            for r in self.results
        ]
        return pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)


@lru_cache(maxsize=1)
def _context() -> Any:
    # GX logs every internal registration at INFO: keep the task log for what matters.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate_table(
    table: str, day: date, data: pa.Table, suite: list[Check], read_log: pa.Table | None = None
) -> TableValidation:
    """Run ``suite`` on ``data`` (one day of ``table``) and split its rows.

    With ``read_log`` (extract's record, a ``read_error`` column), ``schema.readable`` is checked
    first; if it fails, the suite is not run and no row is published or quarantined.
    """
    names = [c.name for c in suite]
    if len(set(names)) != len(names):
        raise ValueError(f"suite for {table} has duplicate check names: {names}")
    read = [] if read_log is None else _readability(table, day, read_log)
    if any(r.blocks for r in read):
        nothing = data.slice(0, 0)
        return TableValidation(
            table, day, read, nothing, _quarantine(nothing, pd.Series(dtype="str"))
        )
    frame = data.to_pandas()
    gx_results = _run_gx(f"{table}_{day.isoformat()}", table, frame, suite)
    results = read + [_result(table, check, gx_results[i], frame) for i, check in enumerate(suite)]

    reasons = pd.Series("", index=frame.index, dtype="str")
    for check in suite:
        rule = check.offending_rows
        if check.severity == "critical" and rule is not None and check.applies_to(frame):
            bad = rule(frame).fillna(False).astype(bool)
            reasons = reasons.where(~bad, reasons + ";" + check.name)
    quarantined = reasons != ""
    valid = data.filter(pa.array((~quarantined).to_numpy()))
    return TableValidation(table, day, results, valid, _quarantine(data, reasons))


def _readability(table: str, day: date, read_log: pa.Table) -> list[CheckResult]:
    frame = read_log.select(["read_error"]).to_pandas()
    check = readable()
    (gx_result,) = _run_gx(f"{table}_{day.isoformat()}_read", table, frame, [check])
    return [_result(table, check, gx_result, frame)]


def _quarantine(data: pa.Table, reasons: pd.Series) -> pa.Table:
    """The rows with a reason, and the reason (check names, ``;``-separated) as a column."""
    offending = (reasons != "").to_numpy(dtype=bool)
    quarantine = data.filter(pa.array(offending, type=pa.bool_()))
    return quarantine.append_column(
        QUARANTINE_REASON,
        pa.array(reasons[reasons != ""].str.lstrip(";").to_list(), type=pa.string()),
    )


def _run_gx(name: str, table: str, frame: pd.DataFrame, suite: list[Check]) -> list[Any]:
    context = _context()
    source = context.data_sources.add_or_update_pandas(name=f"nightshift_{name}")
    batch_definition = source.add_dataframe_asset(name=table).add_batch_definition_whole_dataframe(
        "day"
    )
    expectation_suite = gx.ExpectationSuite(name=f"{table}_suite_{name}")
    for index, check in enumerate(suite):
        expectation = check.make_expectation(frame)
        expectation.meta = {"check": check.name, "position": index, "severity": check.severity}
        # GX drops an expectation equal to one already in the suite (meta aside): two checks may
        # ask the same (origin in the NYC airports, and in the airports snapshot's keys that
        # occur), so the check's name, unique in the suite, tells them apart.
        expectation.description = f"{check.name}: {check.description}"
        expectation_suite.add_expectation(expectation)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    outcome = batch.validate(expectation_suite, result_format="SUMMARY")
    context.data_sources.delete(source.name)
    by_position = {r.expectation_config.meta["position"]: r for r in outcome.results}
    return [by_position[i] for i in range(len(suite))]


def _result(table: str, check: Check, gx_result: Any, frame: pd.DataFrame) -> CheckResult:
    result = gx_result.result or {}
    missing = [c for c in check.columns if c not in frame.columns]
    observed = result.get("observed_value")
    if missing:
        observed = f"column missing: {', '.join(missing)}"
    elif _raised(gx_result):
        observed = "expectation raised an error (see the task log)"
        log.warning("GX raised for %s.%s: %s", table, check.name, gx_result.exception_info)
    return CheckResult(
        table=table,
        check=check,
        expectation_type=gx_result.expectation_config.type,
        success=bool(gx_result.success),
        element_count=result.get("element_count"),
        unexpected_count=result.get("unexpected_count"),
        unexpected_percent=result.get("unexpected_percent"),
        observed_value=None if observed is None else json.dumps(observed, default=str),
        unexpected_sample=_clean_sample(result.get("partial_unexpected_list") or _mismatch(result)),
    )


def _mismatch(result: dict[str, Any]) -> list[str]:
    """The columns a schema check found missing or extra (GX's details), as offending values."""
    mismatched = (result.get("details") or {}).get("mismatched") or {}
    missing = [f"missing {c}" for c in mismatched.get("missing") or []]
    return missing + [f"extra {c}" for c in mismatched.get("unexpected") or []]


def _raised(gx_result: Any) -> bool:
    info = gx_result.exception_info or {}
    if info.get("raised_exception"):
        return True
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _clean_sample(values: list[Any]) -> list[Any]:
    cleaned = [None if isinstance(v, float) and v != v else v for v in values]  # NaN -> null
    return cleaned[:SAMPLE_SIZE]
