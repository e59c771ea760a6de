"""Each kind of defect an upstream file can have is caught, recorded and quarantined."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines.ingest.sources.nycflights import day_of
from pipelines.ingest.validation.context import DayContext
from pipelines.ingest.validation.runner import validate_table
from pipelines.ingest.validation.suites import suite_for
from tests.fixtures.intake import SMALL_DAYS as BOUNDS

DAY = date(2013, 1, 2)
NO_CONTEXT = DayContext()


@pytest.fixture(scope="module")
def flights() -> pa.Table:
    return day_of("flights", DAY).slice(0, 12)


def run(table: str, data: pa.Table, day: date = DAY):
    return validate_table(table, day, data, suite_for(table, day, BOUNDS, NO_CONTEXT))


def result(outcome, check_name: str):
    return next(r for r in outcome.results if r.check.name == check_name)


def with_values(data: pa.Table, column: str, rows: list[int], value) -> pa.Table:
    values = data[column].to_pylist()
    for i in rows:
        values[i] = value
    return data.set_column(
        data.column_names.index(column), column, pa.array(values, data[column].type)
    )


def test_a_clean_day_passes_and_keeps_every_row(flights):
    outcome = run("flights", flights)
    assert outcome.passed
    assert outcome.valid_rows.num_rows == 12
    assert outcome.quarantined_rows.num_rows == 0
    assert all(r.success for r in outcome.results if r.check.severity == "critical")


def test_a_renamed_column_blocks_the_day(flights):
    renamed = flights.rename_columns(
        ["carrier_code" if c == "carrier" else c for c in flights.column_names]
    )
    outcome = run("flights", renamed)
    assert not outcome.passed
    failed = {r.check.name for r in outcome.failures}
    assert "schema.columns" in failed
    schema = result(outcome, "schema.columns")
    assert "carrier_code" in schema.observed_value
    # Row-level checks on the missing column report it instead of crashing.
    assert "column missing: carrier" in result(outcome, "carrier.not_null").observed_value


def test_null_keys_block_the_day_and_quarantine_the_rows(flights):
    damaged = with_values(flights, "carrier", [1, 4], None)
    outcome = run("flights", damaged)
    assert not outcome.passed
    check = result(outcome, "carrier.not_null")
    assert (check.success, check.unexpected_count, check.element_count) == (False, 2, 12)
    assert outcome.quarantined_rows.num_rows == 2
    reasons = outcome.quarantined_rows["quarantine_reason"].to_pylist()
    assert all("carrier.not_null" in r for r in reasons)


def test_an_impossible_value_blocks_the_day_with_a_sample_of_it(flights):
    damaged = with_values(flights, "distance", [0, 3, 5], -5.0)
    outcome = run("flights", damaged)
    check = result(outcome, "distance.between")
    assert not check.success and check.unexpected_count == 3
    assert check.unexpected_sample[:3] == [-5.0, -5.0, -5.0]
    assert "3 of 12 rows unexpected" in check.describe()
    assert sorted(outcome.quarantined_rows["distance"].to_pylist()) == [-5.0, -5.0, -5.0]


def test_a_duplicated_flight_key_blocks_the_day(flights):
    duplicated = pa.concat_tables([flights, flights.slice(0, 1)])
    outcome = run("flights", duplicated)
    check = result(outcome, "key.unique(carrier,flight,origin)")
    assert not check.success
    assert outcome.quarantined_rows.num_rows == 2  # both copies: neither can be trusted


def test_rows_of_another_day_block_the_day(flights):
    outcome = run("flights", flights, day=date(2013, 1, 3))
    assert "day.in_set" in {r.check.name for r in outcome.failures}


def test_too_few_rows_block_the_day(flights):
    outcome = run("flights", flights.slice(0, 3))
    assert "rows.count" in {r.check.name for r in outcome.failures}


def test_a_warning_is_recorded_but_does_not_block(flights):
    missing_arrivals = with_values(flights, "arr_delay", [0, 1, 2], None)
    outcome = run("flights", missing_arrivals)
    assert outcome.passed
    assert [w.check.name for w in outcome.warnings] == ["arr_delay.not_null.warning"]
    assert outcome.valid_rows.num_rows == 12  # warnings never remove rows


def test_a_tolerated_critical_defect_quarantines_the_row_and_publishes_the_rest():
    weather = day_of("weather", DAY)
    damaged = with_values(weather, "wind_speed", [7], 1048.0)  # the famous broken anemometer
    outcome = run("weather", damaged)
    assert outcome.passed
    assert outcome.quarantined_rows.num_rows == 1
    assert outcome.quarantined_rows["quarantine_reason"].to_pylist() == ["wind_speed.between"]
    assert outcome.valid_rows.num_rows == weather.num_rows - 1
    assert pc.max(outcome.valid_rows["wind_speed"]).as_py() < 200


def test_results_table_has_one_row_per_check(flights):
    outcome = run("flights", with_values(flights, "distance", [0], -1.0))
    table = outcome.results_table()
    assert table.num_rows == len(suite_for("flights", DAY, BOUNDS, NO_CONTEXT))
    row = next(r for r in table.to_pylist() if r["check_name"] == "distance.between")
    assert row["table_name"] == "flights"
    assert row["severity"] == "critical"
    assert row["success"] is False
    assert row["unexpected_count"] == 1
    assert row["unexpected_sample"] == "[-1.0]"
    assert row["expectation_type"] == "expect_column_values_to_be_between"


@pytest.mark.parametrize("table", ["planes", "airports", "airlines"])
def test_reference_snapshots_of_the_real_data_pass(table):
    assert run(table, day_of(table, DAY)).passed


def test_the_real_day_with_a_broken_anemometer_passes_with_one_row_quarantined():
    # 2013-02-12 has the data set's impossible 1,048 mph wind reading.
    day = date(2013, 2, 12)
    outcome = run("weather", day_of("weather", day), day=day)
    assert outcome.passed
    assert outcome.quarantined_rows["wind_speed"].to_pylist() == [pytest.approx(1048.36058)]
