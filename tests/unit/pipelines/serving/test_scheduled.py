"""A stated flight as the schedule row a source would have published for it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from pipelines.ingest.sources.schemas import SCHEMAS
from pipelines.serving.scheduled import ScheduledFlight, UnschedulableFlight, schedule_rows

SCHEMA = SCHEMAS["schedule"].append(pa.field("dt", pa.date32()))
ZONES = {"EWR": "America/New_York"}
DISTANCES = {("EWR", "IAH"): 1400.0}


def _flight(**changes) -> ScheduledFlight:
    values = dict(
        flight_date=date(2013, 1, 4), carrier="UA", flight_number=1545, origin="EWR",
        dest="IAH", sched_dep_time=515, sched_arr_time=819,
    )  # fmt: skip
    return ScheduledFlight(**{**values, **changes})


def test_the_row_has_the_schedule_columns_and_the_departure_hour_in_utc() -> None:
    [row] = schedule_rows([_flight()], SCHEMA, ZONES, DISTANCES).to_pylist()
    assert (row["hour"], row["minute"], row["flight"], row["dt"]) == (5, 15, 1545, date(2013, 1, 4))
    assert row["time_hour"] == datetime(2013, 1, 4, 10, tzinfo=UTC)  # EST is UTC-5
    # Summer time: the same clock hour is an hour earlier in UTC.
    [summer] = schedule_rows([_flight(flight_date=date(2013, 7, 4))], SCHEMA, ZONES, DISTANCES)[
        "time_hour"
    ].to_pylist()
    assert summer == datetime(2013, 7, 4, 9, tzinfo=UTC)


def test_a_missing_distance_is_the_routes_last_published_one() -> None:
    [row] = schedule_rows([_flight()], SCHEMA, ZONES, DISTANCES).to_pylist()
    assert row["distance"] == 1400.0
    [stated] = schedule_rows([_flight(distance_miles=1399)], SCHEMA, ZONES, DISTANCES).to_pylist()
    assert stated["distance"] == 1399.0


@pytest.mark.parametrize(
    ("flight", "field"),
    [(_flight(origin="XXX"), "origin"), (_flight(dest="SFO"), "distance_miles")],
)
def test_what_cannot_be_scheduled_names_the_field(flight: ScheduledFlight, field: str) -> None:
    with pytest.raises(UnschedulableFlight) as caught:
        schedule_rows([flight], SCHEMA, ZONES, DISTANCES)
    assert caught.value.field == field
