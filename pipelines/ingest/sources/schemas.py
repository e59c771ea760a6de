"""The canonical Arrow schema of every source table, shared by all sources.

Sources hand over whatever columns they found; ``conform`` casts the known ones to these types and
keeps unknown ones, so that validation (not a reader crash) reports a renamed or extra column.
"""

from __future__ import annotations

import pyarrow as pa

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "flights": pa.schema(
        [
            ("year", pa.int32()),
            ("month", pa.int32()),
            ("day", pa.int32()),
            ("dep_time", pa.int32()),
            ("sched_dep_time", pa.int32()),
            ("dep_delay", pa.float64()),
            ("arr_time", pa.int32()),
            ("sched_arr_time", pa.int32()),
            ("arr_delay", pa.float64()),
            ("carrier", pa.string()),
            ("flight", pa.int32()),
            ("tailnum", pa.string()),
            ("origin", pa.string()),
            ("dest", pa.string()),
            ("air_time", pa.float64()),
            ("distance", pa.float64()),
            ("hour", pa.int32()),
            ("minute", pa.int32()),
            ("time_hour", UTC_TIMESTAMP),
        ]
    ),
    "weather": pa.schema(
        [
            ("origin", pa.string()),
            ("year", pa.int32()),
            ("month", pa.int32()),
            ("day", pa.int32()),
            ("hour", pa.int32()),
            ("temp", pa.float64()),
            ("dewp", pa.float64()),
            ("humid", pa.float64()),
            ("wind_dir", pa.float64()),
            ("wind_speed", pa.float64()),
            ("wind_gust", pa.float64()),
            ("precip", pa.float64()),
            ("pressure", pa.float64()),
            ("visib", pa.float64()),
            ("time_hour", UTC_TIMESTAMP),
        ]
    ),
    "planes": pa.schema(
        [
            ("tailnum", pa.string()),
            ("year", pa.int32()),
            ("type", pa.string()),
            ("manufacturer", pa.string()),
            ("model", pa.string()),
            ("engines", pa.int32()),
            ("seats", pa.int32()),
            ("speed", pa.float64()),
            ("engine", pa.string()),
        ]
    ),
    "airports": pa.schema(
        [
            ("faa", pa.string()),
            ("name", pa.string()),
            ("lat", pa.float64()),
            ("lon", pa.float64()),
            ("alt", pa.float64()),
            ("tz", pa.float64()),
            ("dst", pa.string()),
            ("tzone", pa.string()),
        ]
    ),
    "airlines": pa.schema([("carrier", pa.string()), ("name", pa.string())]),
}

# The next-day feeds, published the evening before the day they describe: the planned flights
# (schedule columns only: no actual times, delays or air time) and the hourly weather forecast.
# The sample has no forecasts, so the observed weather of the day stands in for it, the same
# stand-in the training features use (see sql/features/flight_features.sql).
SCHEDULE_COLUMNS = (
    "year",
    "month",
    "day",
    "sched_dep_time",
    "sched_arr_time",
    "carrier",
    "flight",
    "tailnum",
    "origin",
    "dest",
    "distance",
    "hour",
    "minute",
    "time_hour",
)
SCHEMAS["schedule"] = pa.schema([SCHEMAS["flights"].field(c) for c in SCHEDULE_COLUMNS])
SCHEMAS["weather_forecast"] = SCHEMAS["weather"]

# The sample table each dated table is cut from.
SAMPLE_TABLE = {
    "flights": "flights",
    "weather": "weather",
    "schedule": "flights",
    "weather_forecast": "weather",
}


class SchemaError(ValueError):
    """A source column holds values that cannot be read as the canonical type.

    Each source turns it into ``UnreadableSourceData`` naming where it read (kept apart from it so
    this module stays import-free below the sources).
    """

    def __init__(self, table: str, reason: str, column_name: str) -> None:
        self.table, self.reason, self.column_name = table, reason, column_name
        super().__init__(f"{table}.{column_name}: {reason}")


def conform(table: str, data: pa.Table) -> pa.Table:
    """Known columns cast to the canonical type and order; unknown columns kept at the end."""
    schema = SCHEMAS[table]
    columns, names = [], []
    for field in schema:
        if field.name in data.column_names:
            try:
                columns.append(data[field.name].cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaError(
                    table,
                    f"cannot read {table}.{field.name} values as {field.type}: {exc}",
                    column_name=field.name,
                ) from exc
            names.append(field.name)
    for name in data.column_names:
        if name not in schema.names:
            columns.append(data[name])
            names.append(name)
    return pa.table(columns, names=names)


def empty(table: str) -> pa.Table:
    return SCHEMAS[table].empty_table()
