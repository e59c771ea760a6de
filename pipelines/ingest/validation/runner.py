"""Run a suite on one day of one table: DuckDB computes, Great Expectations decides.

The day's rows stay where they are (a Parquet file, or an Arrow table in tests). One aggregate
pass of DuckDB counts, for every row-level check, the rows that offend it and the rows it
considers (:mod:`pipelines.ingest.validation.engine`), in DuckDB's memory limit, whatever the size
of the day. GX judges each check from those metrics with the expectation's own rule (``mostly``
included) and gives its standard SUMMARY result, which is the evidence format of
``quality.validation_results``.

Returns the outcome as data: one result row per check, and the publishable and quarantined rows
as record-batch streams (or tables, for small days and tests). When no row offends a critical
check, every row of the file is publishable as it is (``valid_file``): the caller can publish
the file itself instead of writing its rows again. The caller decides what to write.

Readability comes first: ``schema.readable`` runs on extract's log of the table (one row, with the
reader's error if any). A table that could not be read is judged by that check alone, since there
are no rows to run the suite on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from great_expectations.core import ExpectationValidationResult

from pipelines.ingest.validation import engine
from pipelines.ingest.validation.checks import Check, readable, unchanged_snapshot
from pipelines.ingest.validation.engine import SAMPLE_SIZE
from pipelines.storage import lake

log = logging.getLogger(__name__)

QUARANTINE_REASON = "quarantine_reason"
RESULT_FORMAT = {"result_format": "SUMMARY"}

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


@dataclass
class TableValidation:
    """The outcome for one table on one day."""

    table: str
    day: date
    results: list[CheckResult]
    valid: engine.Rows
    quarantined: engine.Rows
    columns: list[str] = field(default_factory=list)
    # Set for a reference snapshot equal to an earlier published one: nothing new to store.
    unchanged_since: date | None = None
    # The file every row of which is publishable, as it is (no row to quarantine).
    valid_file: Path | None = None

    @property
    def valid_rows(self) -> pa.Table:
        return self.valid.table()

    @property
    def quarantined_rows(self) -> pa.Table:
        return self.quarantined.table()

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


def validate_table(
    table: str,
    day: date,
    data: pa.Table | Path,
    suite: list[Check],
    read_log: pa.Table | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> TableValidation:
    """Run ``suite`` on ``data`` (one day of ``table``: a Parquet file or an Arrow table).

    With ``read_log`` (extract's record, a ``read_error`` column), ``schema.readable`` is checked
    first; if it fails, the suite is not run and no row is published or quarantined. ``con``:
    the DuckDB connection the rows stay in until they are written (a new one if not given; its
    memory limit bounds the work).
    """
    names = [c.name for c in suite]
    if len(set(names)) != len(names):
        raise ValueError(f"suite for {table} has duplicate check names: {names}")
    con = con if con is not None else duckdb.connect()
    source = engine.relation(con, table, data)
    # The stored types, which the written batches are cast back to (DuckDB's round trip may
    # change a time zone or a string type).
    schema = data.schema if isinstance(data, pa.Table) else lake.data_schema(data)
    quarantine_schema = schema.append(pa.field(QUARANTINE_REASON, pa.string()))
    read = [] if read_log is None else _readability(con, table, read_log)
    if any(r.blocks for r in read):
        return TableValidation(
            table,
            day,
            read,
            engine.Rows(None, "", schema, 0),
            engine.Rows(None, "", quarantine_schema, 0),
        )
    row_checks = engine.predicates(con, table, source, schema.names, suite)
    critical = [
        row_checks[c.name] for c in suite if c.severity == "critical" and c.name in row_checks
    ]
    offends = " or ".join(critical) or "false"
    measured = engine.measure(con, source, suite, schema.names, row_checks)
    results = read + _judge(con, table, source, suite, schema.names, row_checks, measured)
    # Rows to quarantine: none unless a critical check found offenders (then a second pass
    # counts the rows offending any of them).
    offenders = [measured.offending[c.name] for c in suite if row_checks.get(c.name) in critical]
    bad = engine.count(con, source, offends) if any(offenders) else 0
    reason = (
        "concat_ws(';', "
        + ", ".join(
            f"case when {row_checks[c.name]} then '{c.name}' end"
            for c in suite
            if c.severity == "critical" and c.name in row_checks
        )
        + ")"
        if critical
        else "null"
    )
    data_columns = ", ".join(engine.quote(c) for c in schema.names)
    total = measured.rows
    # A filter keeps the source's row order (DuckDB's preserve_insertion_order, on by default):
    # no sort of the day.
    valid = engine.Rows(
        con,
        f"select {data_columns} from {source} where not ({offends})",  # noqa: S608
        schema,
        total - bad,
    )
    quarantined = engine.Rows(
        con,
        f"select {data_columns}, {reason} as {QUARANTINE_REASON} from {source} "  # noqa: S608
        f"where {offends}",
        quarantine_schema,
        bad,
    )
    whole = data if isinstance(data, Path) and not bad else None
    return TableValidation(
        table, day, results, valid, quarantined, list(schema.names), valid_file=whole
    )


def unchanged_table(
    table: str,
    day: date,
    since: date,
    rows: int,
    schema: pa.Schema,
    read_log: pa.Table,
    con: duckdb.DuckDBPyConnection,
) -> TableValidation:
    """The outcome for a reference snapshot whose content equals the one published on ``since``:
    its readability, and the comparison, recorded; nothing to store."""
    read = _readability(con, table, read_log)
    check = unchanged_snapshot(since.isoformat())
    result = CheckResult(
        table=table,
        check=check,
        expectation_type="snapshot_fingerprint",
        success=True,
        element_count=rows,
        unexpected_count=None,
        unexpected_percent=None,
        observed_value=json.dumps(f"equal to the snapshot of {since}"),
        unexpected_sample=[],
    )
    quarantine_schema = schema.append(pa.field(QUARANTINE_REASON, pa.string()))
    return TableValidation(
        table,
        day,
        [*read, result],
        engine.Rows(None, "", schema, rows),
        engine.Rows(None, "", quarantine_schema, 0),
        list(schema.names),
        unchanged_since=since,
    )


def _readability(
    con: duckdb.DuckDBPyConnection, table: str, read_log: pa.Table
) -> list[CheckResult]:
    """``schema.readable`` on extract's log of the table (one row per delivered file or query)."""
    return _judge(con, table, engine.relation(con, table, read_log), [readable()])


def _judge(
    con: duckdb.DuckDBPyConnection,
    table: str,
    relation: str,
    suite: list[Check],
    columns: list[str] | None = None,
    row_checks: dict[str, str] | None = None,
    measured: engine.Measured | None = None,
) -> list[CheckResult]:
    """GX's verdict on each check, from the metrics DuckDB computed."""
    if columns is None:  # a small relation (extract's log)
        # relation: a name engine.relation generated, never caller text.
        columns = con.sql(f"select * from {relation} limit 0").columns  # noqa: S608
    if row_checks is None:
        row_checks = engine.predicates(con, table, relation, columns, suite)
    if measured is None:
        measured = engine.measure(con, relation, suite, columns, row_checks)
    results = []
    for check in suite:
        expectation = check.make_expectation()
        metrics: dict[str, Any] = {"table.row_count": measured.rows, "table.columns": columns}
        missing = [c for c in check.columns if c not in columns]
        if check.name in row_checks:
            metric = getattr(expectation, "map_metric", None)
            offending = measured.offending[check.name]
            metrics["column_values.nonnull.unexpected_count"] = measured.nulls[check.columns[0]]
            metrics[f"{metric}.unexpected_count"] = offending
            metrics[f"{metric}.filtered_row_count"] = measured.considered[check.name]
            metrics[f"{metric}.unexpected_values"] = (
                engine.sample(con, relation, row_checks[check.name], check.columns)
                if offending
                else []
            )
        success, result = False, {}  # a missing column: the schema check's finding
        if not missing:
            # The expectation's own rule (``mostly`` included) on the metrics: GX decides.
            verdict: Any = expectation._validate(metrics, runtime_configuration=RESULT_FORMAT)
            success, result = bool(verdict["success"]), dict(verdict.get("result") or {})
        gx_result = ExpectationValidationResult(
            success=success, result=result, expectation_config=expectation.configuration
        )
        results.append(_result(table, check, gx_result, missing))
    return results


def _result(table: str, check: Check, gx_result: Any, missing: list[str]) -> CheckResult:
    result = gx_result.result or {}
    observed = result.get("observed_value")
    if missing:
        observed = f"column missing: {', '.join(missing)}"
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


def _clean_sample(values: list[Any]) -> list[Any]:
    cleaned = [None if isinstance(v, float) and v != v else v for v in values]  # NaN -> null
    return cleaned[:SAMPLE_SIZE]
