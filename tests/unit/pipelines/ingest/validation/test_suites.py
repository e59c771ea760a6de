"""The rules that need more than one column or table: clock times, time_hour, references,
snapshots and volumes, each decided by Great Expectations with the same rule as its row mask."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from pipelines.ingest.sources.nycflights import day_of
from pipelines.ingest.validation.context import DayContext, Snapshot
from pipelines.ingest.validation.runner import validate_table
from pipelines.ingest.validation.suites import local_hours, suite_for
from tests.fixtures.intake import SMALL_DAYS, bounds

DAY = date(2013, 1, 2)
NO_CONTEXT = DayContext()


@pytest.fixture(scope="module")
def flights() -> pa.Table:
    return day_of("flights", DAY).slice(0, 40)


def keys(table: str, column: str) -> Snapshot:
    data = day_of(table, DAY)
    return Snapshot.of(data.num_rows, data[column].drop_null().to_pylist())


@pytest.fixture(scope="module")
def context() -> DayContext:
    """The real reference snapshots of the day; the previous ones the same."""
    reference = {
        "airlines": keys("airlines", "carrier"),
        "airports": keys("airports", "faa"),
        "planes": keys("planes", "tailnum"),
    }
    return DayContext(reference=reference, previous=dict(reference))


def run(table, data, context=NO_CONTEXT, day=DAY, limits=SMALL_DAYS):
    return validate_table(table, day, data, suite_for(table, day, limits, context))


def check(outcome, name: str):
    return next(r for r in outcome.results if r.check.name == name)


def with_values(data: pa.Table, column: str, rows: dict[int, object]) -> pa.Table:
    values = data[column].to_pylist()
    for i, value in rows.items():
        values[i] = value
    index = data.column_names.index(column)
    return data.set_column(index, column, pa.array(values, data[column].type))


def test_the_real_day_passes_every_check_with_its_context(flights, context) -> None:
    outcome = run("flights", flights, context)
    assert outcome.passed, [r.describe() for r in outcome.failures]
    assert outcome.quarantined_rows.num_rows == 0


@pytest.mark.parametrize(
    ("column", "value"), [("arr_time", 2599), ("dep_time", -45), ("sched_dep_time", 1075)]
)
def test_an_impossible_clock_time_is_caught(flights, column: str, value: int) -> None:
    outcome = run("flights", with_values(flights, column, {3: value}))
    result = check(outcome, f"{column}.hhmm")
    assert not result.success and result.unexpected_count == 1
    assert result.unexpected_sample == [value]
    assert result.expectation_type == "expect_column_values_to_be_hhmm_clock_times"
    assert outcome.quarantined_rows["quarantine_reason"].to_pylist() == [f"{column}.hhmm"]


def test_midnight_as_2400_is_a_valid_clock_time(flights) -> None:
    outcome = run("flights", with_values(flights, "arr_time", {0: 2400, 1: 0}))
    assert check(outcome, "arr_time.hhmm").success


def test_a_time_hour_an_hour_off_is_caught(flights) -> None:
    shifted = flights["time_hour"][5].as_py().replace(hour=flights["time_hour"][5].as_py().hour + 1)
    outcome = run("flights", with_values(flights, "time_hour", {5: shifted}))
    result = check(outcome, "time_hour.local_hour")
    assert not result.success and result.unexpected_count == 1
    assert outcome.quarantined_rows.num_rows == 1


@pytest.mark.parametrize("day", [date(2013, 3, 10), date(2013, 11, 3), date(2013, 7, 1)])
def test_time_hour_is_utc_and_real_days_pass_across_daylight_saving(day: date) -> None:
    assert len(local_hours(day)) == {date(2013, 3, 10): 23, date(2013, 11, 3): 25}.get(day, 24)
    for table in ("flights", "weather"):
        outcome = run(table, day_of(table, day), day=day, limits=bounds(flights=(1, 10_000)))
        assert check(outcome, "time_hour.local_hour").success, table


def test_an_unknown_carrier_or_origin_blocks_and_an_unknown_dest_only_warns(
    flights, context
) -> None:
    damaged = with_values(flights, "carrier", {0: "ZZ"})
    damaged = with_values(damaged, "dest", {1: "QQQ"})
    outcome = run("flights", damaged, context)
    assert not check(outcome, "carrier.in_airlines").success
    # The real data flies to SJU and BQN, which airports lacks: recorded, never blocking.
    unknown = [
        d for d in flights["dest"].to_pylist() if d not in set(context.keys("airports").to_pylist())
    ]
    assert check(outcome, "dest.in_airports.warning").unexpected_count == len(unknown) + 1
    assert [r.check.name for r in outcome.failures] == ["carrier.in_airlines"]
    assert outcome.quarantined_rows["carrier"].to_pylist() == ["ZZ"]
    no_jfk = DayContext(
        reference={
            **context.reference,
            "airports": Snapshot.of(
                1, set(context.reference["airports"].keys.to_pylist()) - {"JFK"}
            ),
        }
    )
    outcome = run("flights", flights, no_jfk)
    jfk = sum(o == "JFK" for o in flights["origin"].to_pylist())
    assert check(outcome, "origin.in_airports").unexpected_count == jfk > 0


def test_a_tail_the_planes_snapshot_lost_blocks_but_one_never_known_warns(flights, context) -> None:
    known = set(context.reference["planes"].keys.to_pylist())
    flown = [t for t in flights["tailnum"].to_pylist() if t in known]
    lost = DayContext(
        reference={
            **context.reference,
            "planes": Snapshot.of(3000, known - {flown[0]}),
        },
        previous=context.previous,
    )
    outcome = run("flights", flights, lost)
    result = check(outcome, "tailnum.dropped_from_planes")
    assert not result.success and result.unexpected_sample[0] == flown[0]
    assert check(outcome, "tailnum.in_planes.warning").success  # unknown tails: a warning only


def test_a_snapshot_losing_rows_against_the_previous_one_blocks(context) -> None:
    planes = day_of("planes", DAY)
    kept = planes.slice(0, int(planes.num_rows * 0.9))
    outcome = run("planes", kept, context)
    assert [r.check.name for r in outcome.failures] == ["rows.vs_previous"]
    assert run("planes", planes.slice(0, planes.num_rows - 10), context).passed  # under 5% lost


@pytest.mark.parametrize(("rows", "passes"), [(8, False), (20, True), (40, True), (61, False)])
def test_volume_against_the_median_of_recent_days(flights, rows: int, passes: bool) -> None:
    recent = DayContext(recent_rows={"flights": (40, 38, 41, 45, 30, 40, 39)})
    doubled = pa.concat_tables([flights, flights.slice(0, 21)])
    doubled = with_values(doubled, "flight", {40 + i: 9000 + i for i in range(21)})
    data = flights.slice(0, rows) if rows <= 40 else doubled
    outcome = run("flights", data, recent)
    assert check(outcome, "rows.vs_recent").success is passes


def test_volume_is_not_judged_on_too_little_history(flights) -> None:
    recent = DayContext(recent_rows={"flights": (40, 38)})
    names = [c.name for c in suite_for("flights", DAY, SMALL_DAYS, recent)]
    assert "rows.vs_recent" not in names
    assert "rows.vs_recent" in [
        c.name for c in suite_for("flights", DAY, bounds(volume_min_days=2), recent)
    ]


def test_without_context_no_cross_table_check_is_made(flights) -> None:
    names = {c.name for c in suite_for("flights", DAY, SMALL_DAYS, DayContext())}
    assert not {n for n in names if "in_air" in n or "planes" in n or "rows.vs" in n}
