"""Checks: one declaration gives both the Great Expectations expectation and the offending rows.

GX decides whether a check passes (with its ``mostly`` tolerance) and formats the standard
SUMMARY result; DuckDB, where the data is, computes what GX decides on. Each row-level check
carries its rule as a SQL predicate over one row (true: the row offends), and the runner
(:mod:`pipelines.ingest.validation.runner`) evaluates every predicate of a suite in one pass,
counts, samples and splits the rows with it. The same predicate that GX's verdict is based on
picks the quarantined rows, so the two can never disagree.

Predicates name columns through ``_q`` (quoted identifiers from the canonical schema) and refer to
value sets (allowed codes, reference keys, the day's local hours) as ``{name}``: the engine
registers each set as a DuckDB table and puts its name there (``{rows}`` is the day's rows). No
value is ever spliced into SQL text except numeric bounds and regular expressions written here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import great_expectations.expectations as gxe
import pyarrow as pa

from pipelines.ingest.validation.engine import quote as _q
from pipelines.ingest.validation.expectations import MAX_HHMM, ExpectColumnValuesToBeHhmmClockTimes

Severity = Literal["critical", "warning"]
MakeExpectation = Callable[[], gxe.Expectation]


@dataclass(frozen=True)
class Check:
    """One rule about one table.

    critical: failing it blocks the day's partition. warning: the result is only recorded.
    Row-level checks (``predicate`` set) quarantine the rows that break a critical rule; with
    ``mostly`` < 1 a few such rows are quarantined while the rest of the day is published.
    ``considered``: the rows GX counts the tolerance against, as SQL (default: ``columns[0]`` is
    not null, GX's rule for a column map; pair and compound checks skip incomplete rows).
    ``counted``: a query over ``{rows}`` giving (offending, considered) in one row, for a check
    whose predicate reads every row (a key's duplicates): counted apart, by aggregation, instead
    of evaluating the predicate on each row of the day's one aggregate pass.
    """

    name: str
    severity: Severity
    make_expectation: MakeExpectation
    columns: tuple[str, ...] = ()
    predicate: str | None = None
    sets: Mapping[str, pa.Table] = field(default_factory=dict)
    considered: str | None = None
    counted: str | None = None
    description: str = ""
    unit: str = "rows"  # what the checked elements are, in messages ("files" for readability)

    @property
    def row_level(self) -> bool:
        return self.predicate is not None

    def applies_to(self, columns: Collection[str]) -> bool:
        """Predicates need their columns; a missing column is the schema check's finding."""
        return all(c in columns for c in self.columns)


def _values(values: Collection[Any] | pa.Array) -> pa.Table:
    """A value set as the one-column table (``v``) a predicate's ``NOT IN`` reads."""
    if isinstance(values, pa.Array):
        return pa.table({"v": values})
    return pa.table({"v": pa.array(list(values))})


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def _named(base: str, severity: Severity) -> str:
    # A column can carry a strict critical bound and a looser warning: keep their names apart.
    return base if severity == "critical" else f"{base}.warning"


def columns_exactly(names: Sequence[str]) -> Check:
    return Check(
        name="schema.columns",
        severity="critical",
        make_expectation=lambda: gxe.ExpectTableColumnsToMatchSet(
            column_set=list(names), exact_match=True
        ),
        description="exactly the expected columns: none missing or renamed, none extra",
    )


def row_count_between(
    low: int, high: int | None, name: str = "rows.count", why: str = "in the day"
) -> Check:
    """The table's row count within [low, high] (no upper bound if ``high`` is None)."""
    bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
    return Check(
        name=name,
        severity="critical",
        make_expectation=lambda: gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high),
        description=f"{bounds} rows {why}",
    )


def not_null(column: str, severity: Severity = "critical", mostly: float = 1.0) -> Check:
    return Check(
        name=_named(f"{column}.not_null", severity),
        severity=severity,
        make_expectation=lambda: gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=mostly),
        columns=(column,),
        predicate=f"{_q(column)} is null",
        considered="true",
        description=f"{column} is present" + (f" in {mostly:.0%} of rows" if mostly < 1 else ""),
    )


def between(
    column: str,
    low: float,
    high: float,
    severity: Severity = "critical",
    mostly: float = 1.0,
) -> Check:
    # NaN is a value here, and outside every range (DuckDB orders it above all numbers).
    return Check(
        name=_named(f"{column}.between", severity),
        severity=severity,
        make_expectation=lambda: gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=low, max_value=high, mostly=mostly
        ),
        columns=(column,),
        predicate=f"not ({_q(column)} between {_number(low)} and {_number(high)})",
        description=f"{low} <= {column} <= {high}",
    )


def in_set(column: str, values: Sequence[Any], severity: Severity = "critical") -> Check:
    allowed = list(values)
    return Check(
        name=_named(f"{column}.in_set", severity),
        severity=severity,
        make_expectation=lambda: gxe.ExpectColumnValuesToBeInSet(column=column, value_set=allowed),
        columns=(column,),
        predicate=f"{_q(column)} not in (select v from {{allowed}})",
        sets={"allowed": _values(allowed)},
        description=f"{column} in {allowed}",
    )


def matches(column: str, regex: str, severity: Severity = "critical") -> Check:
    pattern = "'" + regex.replace("'", "''") + "'"
    return Check(
        name=_named(f"{column}.matches", severity),
        severity=severity,
        # GX searches (re.search); anchor it so GX's configuration says what the predicate does.
        make_expectation=lambda: gxe.ExpectColumnValuesToMatchRegex(
            column=column, regex=f"^(?:{regex})$"
        ),
        columns=(column,),
        predicate=f"not regexp_full_match({_q(column)}, {pattern})",
        description=f"{column} matches {regex}",
    )


def unique(columns: Sequence[str]) -> Check:
    key = list(columns)
    quoted = ", ".join(_q(c) for c in key)
    complete = " and ".join(f"{_q(c)} is not null" for c in key)
    return Check(
        name=f"key.unique({','.join(key)})",
        severity="critical",
        make_expectation=lambda: (
            gxe.ExpectColumnValuesToBeUnique(column=key[0])
            if len(key) == 1
            else gxe.ExpectCompoundColumnsToBeUnique(column_list=key)
        ),
        columns=tuple(key),
        # Every row of a duplicated key offends (as GX counts them), not only the second one.
        # A hash aggregate of the duplicated keys ({rows}: the day's rows) is cheaper than a
        # window over every key.
        predicate=(
            f"{complete} and struct_pack({quoted}) in (select struct_pack({quoted}) "
            f"from {{rows}} group by all having count(*) > 1)"
        ),
        considered=complete,
        counted=(
            "select coalesce(sum(n) filter (where n > 1), 0), coalesce(sum(n), 0) from "
            f"(select count(*) as n from {{rows}} where {complete} group by {quoted})"
        ),
        description=f"no two rows share ({', '.join(key)})",
    )


def readable() -> Check:
    """The source table could be read (run on extract's log: one row per delivered file/query)."""
    return Check(
        name="schema.readable",
        severity="critical",
        make_expectation=lambda: gxe.ExpectColumnValuesToBeNull(column="read_error"),
        columns=("read_error",),
        predicate="read_error is not null",
        considered="true",
        description="the source could be read in the canonical schema (UTF-8 CSV, typed values)",
        unit="files",
    )


def unchanged_snapshot(since: str) -> Check:
    """A reference snapshot equal to the published one of ``since``: validated and stored once
    per change of content, so this day keeps pointing at that snapshot (no GX expectation: the
    evidence is the fingerprint comparison)."""
    return Check(
        name="snapshot.unchanged",
        severity="warning",
        make_expectation=lambda: gxe.ExpectTableRowCountToBeBetween(min_value=0),
        description=(
            f"same content as the published snapshot of {since}: not validated or stored again; "
            "point-in-time reads use that snapshot"
        ),
    )


def hhmm(column: str) -> Check:
    c = _q(column)
    return Check(
        name=f"{column}.hhmm",
        severity="critical",
        make_expectation=lambda: ExpectColumnValuesToBeHhmmClockTimes(column=column),
        columns=(column,),
        predicate=f"not ({c} between 0 and {MAX_HHMM} and {c} % 100 < 60)",
        description=f"{column} is a clock time hhmm: 0000-2359, or 2400 for midnight",
    )


def pairs_in_set(
    name: str, columns: tuple[str, str], pairs: Collection[tuple[Any, Any]], description: str
) -> Check:
    """Each row's (a, b) is one of ``pairs``; rows missing either are left to not_null checks."""
    allowed = list(pairs)
    a, b = columns
    complete = f"{_q(a)} is not null and {_q(b)} is not null"
    return Check(
        name=name,
        severity="critical",
        make_expectation=lambda: gxe.ExpectColumnPairValuesToBeInSet(
            column_A=a, column_B=b, value_pairs_set=allowed, ignore_row_if="either_value_is_missing"
        ),
        columns=columns,
        predicate=(
            f"{complete} and not exists (select 1 from {{pairs}} as p "
            f"where p.a = {_q(a)} and p.b = {_q(b)})"
        ),
        sets={"pairs": pa.table({"a": [p[0] for p in allowed], "b": [p[1] for p in allowed]})},
        considered=complete,
        description=description,
    )


def in_keys(
    column: str,
    reference: str,
    keys: pa.Array,
    severity: Severity = "critical",
    mostly: float = 1.0,
) -> Check:
    """``column`` values are keys of the ``reference`` snapshot (``keys``)."""
    allowed = keys
    share = f" in {mostly:.0%} of rows" if mostly < 1 else ""
    return Check(
        name=_named(f"{column}.in_{reference}", severity),
        severity=severity,
        # GX decides on the counts DuckDB computes: the key set stays in DuckDB, not in GX's
        # configuration (a planes snapshot at scale has millions of tails).
        make_expectation=lambda: gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=[], mostly=mostly
        ),
        columns=(column,),
        predicate=f"{_q(column)} not in (select v from {{keys}})",
        sets={"keys": _values(allowed)},
        description=f"{column} is in the {reference} snapshot ({len(allowed)} keys){share}",
    )


def not_in_keys(column: str, reference: str, lost: pa.Array) -> Check:
    """No ``column`` value is a key the ``reference`` snapshot has lost since the previous one."""
    refused = lost
    return Check(
        name=f"{column}.dropped_from_{reference}",
        severity="critical",
        make_expectation=lambda: gxe.ExpectColumnValuesToNotBeInSet(column=column, value_set=[]),
        columns=(column,),
        predicate=f"{_q(column)} in (select v from {{lost}})",
        sets={"lost": _values(refused)},
        description=(
            f"no {column} that the previous {reference} snapshot had and this one lost "
            f"({len(refused)} lost)"
        ),
    )
