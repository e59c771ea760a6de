"""The expectation suites, as code: one per source table, for one day's partition.

Critical checks block the day; warnings are recorded only. Bounds are domain limits, not fitted
statistics: a negative distance or a 13th month is impossible; a 20-hour delay is merely rare.
Checks against other tables (reference keys, the previous snapshot, recent volumes) read the
``DayContext`` they are given; a check whose context is missing (no previous snapshot yet, too few
published days) is left out rather than judged against nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from math import ceil, floor
from statistics import median
from zoneinfo import ZoneInfo

import pandas as pd

from pipelines.ingest.sources.schemas import SCHEMAS
from pipelines.ingest.validation.checks import (
    Check,
    between,
    columns_exactly,
    hhmm,
    in_keys,
    in_set,
    matches,
    not_in_keys,
    not_null,
    pairs_in_set,
    row_count_between,
    unique,
)
from pipelines.ingest.validation.context import DayContext
from pipelines.settings import RowCountBounds

NYC_AIRPORTS = ("EWR", "JFK", "LGA")
MINUTES_PER_DAY = 1440
# year/month/day/hour are New York local time; time_hour is the same hour as a UTC instant.
LOCAL_TIME = ZoneInfo("America/New_York")
Suite = Callable[[date, RowCountBounds, DayContext], list[Check]]


def local_hours(day: date) -> list[tuple[int, pd.Timestamp]]:
    """(local hour, UTC instant) of each hour of the local day: 23 of them on the spring DST day,
    25 in the autumn (1 a.m. twice, at two instants)."""
    start = datetime.combine(day, time(), tzinfo=LOCAL_TIME).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=LOCAL_TIME).astimezone(UTC)
    hours = int((end - start) / timedelta(hours=1))
    instants = [start + timedelta(hours=h) for h in range(hours)]
    return [(t.astimezone(LOCAL_TIME).hour, pd.Timestamp(t)) for t in instants]


def _same_day(day: date) -> list[Check]:
    """Every row of a daily partition belongs to that day, in local time and as time_hour."""
    return [
        in_set("year", [day.year]),
        in_set("month", [day.month]),
        in_set("day", [day.day]),
        pairs_in_set(
            "time_hour.local_hour",
            ("hour", "time_hour"),
            local_hours(day),
            f"time_hour (UTC) is the row's local hour of {day} (New York time)",
        ),
    ]


def _volume(table: str, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    """The day's rows against the median of recent published days (the volume rule)."""
    recent = context.recent_rows.get(table, ())
    if len(recent) < bounds.volume_min_days:
        return []
    typical = median(recent)
    low, high = bounds.volume_ratio
    why = f"({low:g}x to {high:g}x the median {typical:g} of the last {len(recent)} published days)"
    return [row_count_between(ceil(low * typical), floor(high * typical), "rows.vs_recent", why)]


def _references(context: DayContext) -> list[Check]:
    """A flight's carrier, airports and plane against the reference snapshots.

    Blocks: an unknown carrier or origin, and a destination or tail that the previous snapshot had
    and this one lost. Warns: destinations and tails the reference data never had (the 2013 data
    lacks BQN, SJU, STT and PSE, up to 4% of a day, and 10-18% of a day's tails).
    """
    checks = []
    if (carriers := context.keys("airlines")) is not None:
        checks.append(in_keys("carrier", "airlines", carriers))
    if (airports := context.keys("airports")) is not None:
        checks.append(in_keys("origin", "airports", airports))
        checks.append(in_keys("dest", "airports", airports, "warning", mostly=0.95))
    if (tails := context.keys("planes")) is not None:
        checks.append(in_keys("tailnum", "planes", tails, "warning", mostly=0.8))
    for column, table in (("dest", "airports"), ("tailnum", "planes")):
        if (lost := context.lost_keys(table)) is not None:
            checks.append(not_in_keys(column, table, lost))
    return checks


def _planned_flight_checks(
    table: str, day: date, bounds: RowCountBounds, context: DayContext
) -> list[Check]:
    """What a flight's schedule must satisfy, published ahead (schedule) or flown (flights)."""
    return [
        row_count_between(*bounds.flights),
        *_volume(table, bounds, context),
        *(
            not_null(c)
            for c in ("carrier", "flight", "origin", "dest", "sched_dep_time", "time_hour")
        ),
        *(not_null(c) for c in ("sched_arr_time", "distance", "hour", "minute")),
        unique(["carrier", "flight", "origin"]),
        *_same_day(day),
        in_set("origin", NYC_AIRPORTS),
        matches("carrier", r"[A-Z0-9]{2}"),
        matches("dest", r"[A-Z]{3}"),
        hhmm("sched_dep_time"),
        hhmm("sched_arr_time"),
        between("hour", 0, 23),
        between("minute", 0, 59),
        between("distance", 1, 6_000),
        between("flight", 1, 9_999),
        *_references(context),
    ]


def flights_suite(day: date, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    return [
        columns_exactly(SCHEMAS["flights"].names),
        *_planned_flight_checks("flights", day, bounds, context),
        hhmm("dep_time"),
        hhmm("arr_time"),
        # A delay beyond two days or an arrival a day early is a data error, not a late flight.
        between("dep_delay", -MINUTES_PER_DAY, 2 * MINUTES_PER_DAY),
        between("arr_delay", -MINUTES_PER_DAY, 2 * MINUTES_PER_DAY),
        between("air_time", 1, 1_000),
        # Warnings: unusual but real days (storms cancel many flights; a few planes lack a tail).
        not_null("arr_delay", severity="warning", mostly=0.90),
        not_null("tailnum", severity="warning", mostly=0.95),
        between("dep_delay", -60, 600, severity="warning", mostly=0.995),
    ]


def schedule_suite(day: date, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    """The published schedule of a day: the flights checks that need no outcome."""
    return [
        columns_exactly(SCHEMAS["schedule"].names),
        *_planned_flight_checks("schedule", day, bounds, context),
        not_null("tailnum", severity="warning", mostly=0.95),
    ]


def weather_suite(
    day: date, bounds: RowCountBounds, context: DayContext, table: str = "weather"
) -> list[Check]:
    airports = context.keys("airports")
    return [
        columns_exactly(SCHEMAS[table].names),
        row_count_between(*bounds.weather),
        *_volume(table, bounds, context),
        *(not_null(c) for c in ("origin", "time_hour", "hour")),
        unique(["origin", "time_hour"]),
        *_same_day(day),
        in_set("origin", NYC_AIRPORTS),
        *([] if airports is None else [in_keys("origin", "airports", airports)]),
        between("hour", 0, 23),
        between("temp", -40, 130),  # degrees Fahrenheit
        between("dewp", -60, 100),
        between("humid", 0, 100),
        between("wind_dir", 0, 360),
        between("precip", 0, 10),  # inches in an hour
        between("pressure", 900, 1100),  # millibars
        between("visib", 0, 100),  # miles
        # The 2013 data has one impossible wind reading (1,048 mph): a stray row is quarantined
        # and the day goes on; a broken anemometer (more than 5% of the day) blocks it.
        between("wind_speed", 0, 200, mostly=0.95),
        between("wind_gust", 0, 250, mostly=0.95),
        not_null("temp", severity="warning", mostly=0.95),
    ]


def _vs_previous(table: str, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    """A new snapshot keeps all but a small share of the previous published snapshot's rows."""
    previous = context.previous.get(table)
    if previous is None:
        return []
    loss = bounds.max_snapshot_row_loss
    keep = ceil(previous.rows * (1 - loss))
    why = f"(the previous published snapshot had {previous.rows}; at most {loss:.0%} may go)"
    return [row_count_between(keep, None, "rows.vs_previous", why)]


def planes_suite(day: date, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    return [
        columns_exactly(SCHEMAS["planes"].names),
        row_count_between(1, 1_000_000),
        *_vs_previous("planes", bounds, context),
        not_null("tailnum"),
        unique(["tailnum"]),
        between("year", 1900, day.year + 1, severity="warning"),
        between("seats", 1, 1_000),
        between("engines", 0, 8),
    ]


def airports_suite(day: date, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    return [
        columns_exactly(SCHEMAS["airports"].names),
        row_count_between(1, 1_000_000),
        *_vs_previous("airports", bounds, context),
        not_null("faa"),
        unique(["faa"]),
        between("lat", -90, 90),
        between("lon", -180, 180),
    ]


def airlines_suite(day: date, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    return [
        columns_exactly(SCHEMAS["airlines"].names),
        row_count_between(1, 10_000),
        *_vs_previous("airlines", bounds, context),
        not_null("carrier"),
        unique(["carrier"]),
        not_null("name"),
    ]


def weather_forecast_suite(day: date, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    """The forecast has the observations' shape and physical limits."""
    return weather_suite(day, bounds, context, "weather_forecast")


SUITES: dict[str, Suite] = {
    "flights": flights_suite,
    "weather": weather_suite,
    "schedule": schedule_suite,
    "weather_forecast": weather_forecast_suite,
    "planes": planes_suite,
    "airports": airports_suite,
    "airlines": airlines_suite,
}


def suite_for(table: str, day: date, bounds: RowCountBounds, context: DayContext) -> list[Check]:
    try:
        suite = SUITES[table]
    except KeyError:
        raise ValueError(f"no expectation suite for table {table!r}") from None
    return suite(day, bounds, context)
