"""The expectation suites, as code: one per source table, for one day's partition.

Critical checks block the day; warnings are recorded only. Bounds are domain limits, not fitted
statistics: a negative distance or a 13th month is impossible; a 20-hour delay is merely rare.
"""

from __future__ import annotations

from datetime import date

from pipelines.ingest.sources.schemas import SCHEMAS
from pipelines.ingest.validation.checks import (
    Check,
    between,
    columns_exactly,
    in_set,
    matches,
    not_null,
    row_count_between,
    unique,
)
from pipelines.settings import RowCountBounds

NYC_AIRPORTS = ("EWR", "JFK", "LGA")
MINUTES_PER_DAY = 1440


def _same_day(day: date) -> list[Check]:
    """Every row of a daily partition belongs to that day."""
    return [
        in_set("year", [day.year]),
        in_set("month", [day.month]),
        in_set("day", [day.day]),
    ]


def _planned_flight_checks(day: date, bounds: RowCountBounds) -> list[Check]:
    """What a flight's schedule must satisfy, published ahead (schedule) or flown (flights)."""
    return [
        row_count_between(*bounds.flights),
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
        between("sched_dep_time", 0, 2359),
        between("sched_arr_time", 0, 2400),
        between("hour", 0, 23),
        between("minute", 0, 59),
        between("distance", 1, 6_000),
        between("flight", 1, 9_999),
    ]


def flights_suite(day: date, bounds: RowCountBounds) -> list[Check]:
    return [
        columns_exactly(SCHEMAS["flights"].names),
        *_planned_flight_checks(day, bounds),
        # A delay beyond two days or an arrival a day early is a data error, not a late flight.
        between("dep_delay", -MINUTES_PER_DAY, 2 * MINUTES_PER_DAY),
        between("arr_delay", -MINUTES_PER_DAY, 2 * MINUTES_PER_DAY),
        between("air_time", 1, 1_000),
        # Warnings: unusual but real days (storms cancel many flights; a few planes lack a tail).
        not_null("arr_delay", severity="warning", mostly=0.90),
        not_null("tailnum", severity="warning", mostly=0.95),
        between("dep_delay", -60, 600, severity="warning", mostly=0.995),
    ]


def schedule_suite(day: date, bounds: RowCountBounds) -> list[Check]:
    """The published schedule of a day: the flights checks that need no outcome."""
    return [
        columns_exactly(SCHEMAS["schedule"].names),
        *_planned_flight_checks(day, bounds),
        not_null("tailnum", severity="warning", mostly=0.95),
    ]


def weather_suite(day: date, bounds: RowCountBounds, table: str = "weather") -> list[Check]:
    return [
        columns_exactly(SCHEMAS[table].names),
        row_count_between(*bounds.weather),
        *(not_null(c) for c in ("origin", "time_hour", "hour")),
        unique(["origin", "time_hour"]),
        *_same_day(day),
        in_set("origin", NYC_AIRPORTS),
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


def planes_suite(day: date, bounds: RowCountBounds) -> list[Check]:
    return [
        columns_exactly(SCHEMAS["planes"].names),
        row_count_between(1, 1_000_000),
        not_null("tailnum"),
        unique(["tailnum"]),
        between("year", 1900, day.year + 1, severity="warning"),
        between("seats", 1, 1_000),
        between("engines", 0, 8),
    ]


def airports_suite(day: date, bounds: RowCountBounds) -> list[Check]:
    return [
        columns_exactly(SCHEMAS["airports"].names),
        row_count_between(1, 1_000_000),
        not_null("faa"),
        unique(["faa"]),
        between("lat", -90, 90),
        between("lon", -180, 180),
    ]


def airlines_suite(day: date, bounds: RowCountBounds) -> list[Check]:
    return [
        columns_exactly(SCHEMAS["airlines"].names),
        row_count_between(1, 10_000),
        not_null("carrier"),
        unique(["carrier"]),
        not_null("name"),
    ]


SUITES = {
    "flights": flights_suite,
    "weather": weather_suite,
    "schedule": schedule_suite,
    # The forecast has the observations' shape and physical limits.
    "weather_forecast": lambda day, bounds: weather_suite(day, bounds, "weather_forecast"),
    "planes": planes_suite,
    "airports": airports_suite,
    "airlines": airlines_suite,
}


def suite_for(table: str, day: date, bounds: RowCountBounds) -> list[Check]:
    try:
        return SUITES[table](day, bounds)
    except KeyError:
        raise ValueError(f"no expectation suite for table {table!r}") from None
