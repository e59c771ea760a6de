"""How each model feature is watched for drift, and why: one decision per feature, written down.

A single drift test for every feature is what made the old alert fire every night. Features are
of different kinds, and each kind gets the comparison that means something for it:

* ``ROWS``: a property of the flight itself (its carrier, hour, aircraft). The day's flights form a
  distribution of their own, compared with the champion's training rows by PSI.
* ``DAILY``: one value shared by every flight of a day or of an hour at an origin (the weather,
  the traffic). A day is then a handful of points, and its PSI against a distribution of flights
  measures the calendar, not a fault. The day's mean is compared with the training days' means
  instead: outside their range (widened for the season) is drift. For a ``steady`` level, a step
  from yesterday larger than any step between training days is a broken feed (a unit change).
* ``NOT_MEASURED``: left out of drift, for the reason given. The feed checks below still apply.

Every feature, whatever its kind, is checked for a broken feed on the day it happens: a missing
share above training's, or a feature that always varied within a day turning constant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from models.flight_delay import schema as fd


class Measure(StrEnum):
    ROWS = "rows"
    DAILY = "daily"
    NOT_MEASURED = "not_measured"


@dataclass(frozen=True)
class Watch:
    """How a feature is measured, why, and the feed it comes from (the subject of its incidents:
    a weather feed that breaks is one incident, not one per weather column)."""

    measure: Measure
    reason: str
    feed: str
    # A level that moves gradually from day to day (temperature, pressure, traffic): a step
    # larger than any between training days is a broken feed, such as a change of unit.
    steady: bool = False
    # One value for every flight of a day by construction (the weekday, the day's all-flights
    # rate): being constant today is what it always is, not a stuck feed.
    one_per_day: bool = False


_ROW = "a property of each flight: the day's flights against training's"
_SCHEDULE = Watch(
    Measure.ROWS, "the day's schedule: the aircraft's leg of the day, flight by flight", "schedule"
)
_WEATHER_LEVEL = Watch(
    Measure.DAILY,
    "shared by the flights of an hour at an origin: the day's mean against training's days",
    "weather",
    steady=True,
)
_WEATHER_EVENT = Watch(
    Measure.NOT_MEASURED,
    "weather events (rain, wind, fog) come in spikes: a stormier day than any training day is "
    "weather, not drift; realized performance shows whether the model coped",
    "weather",
)
_STEADY_WEATHER = ("wx_temp_f", "wx_dewpoint_f", "wx_humidity_pct", "wx_pressure_mb")
_OUTCOME_RATE = Watch(
    Measure.NOT_MEASURED,
    "a trailing rate of the label itself: it moves with the season and with delays, which is what "
    "the model is for; whether predictions still fit the outcomes is what realized performance "
    "and calibration measure",
    "delay history",
)
_CALENDAR = Watch(
    Measure.NOT_MEASURED,
    "the calendar: every weekday occurs each week by construction, so a day cannot drift",
    "schedule",
    one_per_day=True,
)

WATCHLIST: dict[str, Watch] = {
    **{
        name: Watch(Measure.ROWS, _ROW, "schedule")
        for name in (
            "carrier",
            "origin",
            "dest",
            "sched_dep_hour",
            "sched_dep_minute_of_day",
            "distance_miles",
            "sched_block_minutes",
        )
    },
    "weekday": _CALENDAR,
    "origin_departures_same_hour": Watch(
        Measure.DAILY,
        "traffic: one value per origin and hour, which moves with the seasonal schedule",
        "schedule",
        steady=True,
    ),
    "origin_departures_day": Watch(
        Measure.DAILY,
        "traffic: one value per origin and day, which moves with the seasonal schedule",
        "schedule",
        steady=True,
    ),
    "tail_leg_of_day": _SCHEDULE,
    "carrier_delay_rate_7d": _OUTCOME_RATE,
    "carrier_delay_rate_28d": _OUTCOME_RATE,
    "carrier_mean_dep_delay_7d": _OUTCOME_RATE,
    "origin_delay_rate_1d": _OUTCOME_RATE,
    "origin_delay_rate_7d": _OUTCOME_RATE,
    "origin_mean_dep_delay_1d": _OUTCOME_RATE,
    "origin_hour_delay_rate_28d": _OUTCOME_RATE,
    "dest_delay_rate_28d": _OUTCOME_RATE,
    "route_delay_rate_28d": _OUTCOME_RATE,
    "route_flights_28d": Watch(
        Measure.NOT_MEASURED,
        "a trailing count: it grows with every day of history and with new routes, so its level "
        "says nothing about the feed; its missing share is still checked",
        "delay history",
    ),
    "flight_number_delay_rate_28d": _OUTCOME_RATE,
    "all_flights_delay_rate_28d": replace(_OUTCOME_RATE, one_per_day=True),
    **{
        name: Watch(Measure.ROWS, _ROW, "aircraft")
        for name in ("plane_age_years", "plane_seats", "plane_engines")
    },
    **{
        name: _WEATHER_LEVEL if name in _STEADY_WEATHER else _WEATHER_EVENT
        for name in fd.NUMERIC
        if name.startswith("wx_")
    },
}


def watch_of(feature: str) -> Watch:
    """The watch of a model feature; a feature with no written decision is a programming error."""
    try:
        return WATCHLIST[feature]
    except KeyError:
        raise KeyError(
            f"feature {feature!r} has no drift decision: add it to WATCHLIST in {__name__}"
        ) from None
