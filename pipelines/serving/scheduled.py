"""A scheduled flight as an application states it, and the ``raw.schedule`` row it stands for.

On-demand scoring puts a flight the batch did not see (a new or rescheduled one) into the day's
published schedule. The row must be what a source would have published for it: the canonical
schedule columns (``pipelines/ingest/sources/schemas.py``), with the scheduled departure hour in
UTC as ``time_hour`` (the key to the weather), from the origin airport's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa


class UnschedulableFlight(ValueError):
    """A stated flight cannot become a schedule row; ``field`` names what to correct."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class ScheduledFlight:
    """One flight of a day as the airline schedules it. Times are local clock times ``HHMM`` at
    the origin (departure) and the destination (arrival), as in the published schedule."""

    flight_date: date
    carrier: str
    flight_number: int
    origin: str
    dest: str
    sched_dep_time: int
    sched_arr_time: int
    tailnum: str | None = None
    distance_miles: float | None = None

    @property
    def key(self) -> tuple[date, str, int, str]:
        return (self.flight_date, self.carrier, self.flight_number, self.origin)


def schedule_rows(
    flights: Sequence[ScheduledFlight],
    schema: pa.Schema,
    zones: Mapping[str, str],
    distances: Mapping[tuple[str, str], float],
) -> pa.Table:
    """``flights`` as rows of ``schema`` (the lake's ``raw.schedule`` view; columns it has that a
    schedule does not state stay null). ``zones``: the time zone of each known airport;
    ``distances``: the last published distance of each route, for a flight that states none."""
    rows = []
    for flight in flights:
        hour, minute = divmod(flight.sched_dep_time, 100)
        departure_hour_utc = _departure_hour_utc(flight, hour, zones)  # the origin first
        rows.append(
            {
                "dt": flight.flight_date,
                "year": flight.flight_date.year,
                "month": flight.flight_date.month,
                "day": flight.flight_date.day,
                "sched_dep_time": flight.sched_dep_time,
                "sched_arr_time": flight.sched_arr_time,
                "carrier": flight.carrier,
                "flight": flight.flight_number,
                "tailnum": flight.tailnum,
                "origin": flight.origin,
                "dest": flight.dest,
                "distance": _distance(flight, distances),
                "hour": hour,
                "minute": minute,
                "time_hour": departure_hour_utc,
            }
        )
    return pa.Table.from_pylist(rows, schema=schema)


def _distance(flight: ScheduledFlight, distances: Mapping[tuple[str, str], float]) -> float:
    if flight.distance_miles is not None:
        return float(flight.distance_miles)
    known = distances.get((flight.origin, flight.dest))
    if known is None:
        raise UnschedulableFlight(
            "distance_miles",
            f"no flight {flight.origin}-{flight.dest} was published before: state distance_miles",
        )
    return known


def _departure_hour_utc(flight: ScheduledFlight, hour: int, zones: Mapping[str, str]) -> datetime:
    zone = zones.get(flight.origin)
    if zone is None:
        raise UnschedulableFlight(
            "origin", f"{flight.origin} is not an airport of the lake's airports reference"
        )
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnschedulableFlight("origin", f"{flight.origin} has no usable time zone") from exc
    midnight = datetime(flight.flight_date.year, flight.flight_date.month, flight.flight_date.day)
    local = (midnight + timedelta(hours=hour)).replace(tzinfo=tz)
    return local.astimezone(ZoneInfo("UTC"))
