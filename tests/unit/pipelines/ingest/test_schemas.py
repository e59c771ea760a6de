"""``conform``: cast known columns to the canonical schema, keep the rest for validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipelines.ingest.sources.schemas import SCHEMAS, SchemaError, conform, empty
from pipelines.tables import DAILY_TABLES, NEXT_DAY_TABLES, REFERENCE_TABLES, SOURCE_TABLES


def test_known_columns_are_cast_and_put_in_canonical_order() -> None:
    data = pa.table(
        {
            "name": ["United Air Lines Inc.", "American Airlines Inc.", "JetBlue Airways"],
            "carrier": pa.array(["UA", "AA", "B6"], type=pa.large_string()),
        }
    )

    result = conform("airlines", data)

    assert result.schema.equals(SCHEMAS["airlines"])
    assert result["carrier"].to_pylist() == ["UA", "AA", "B6"]


def test_integer_and_float_columns_get_the_canonical_widths() -> None:
    data = pa.table(
        {
            "tailnum": ["N10156", "N102UW", "N103US"],
            "year": pa.array([2004, 1998, None], type=pa.int64()),
            "engines": pa.array([2.0, 2.0, 1.0], type=pa.float64()),
            "seats": pa.array(["55", "182", "182"]),
            "speed": pa.array([None, 450, None], type=pa.int64()),
        }
    )

    result = conform("planes", data)

    assert result.column_names == ["tailnum", "year", "engines", "seats", "speed"]
    assert result.schema.field("year").type == pa.int32()
    assert result.schema.field("engines").type == pa.int32()
    assert result.schema.field("seats").type == pa.int32()
    assert result.schema.field("speed").type == pa.float64()
    assert result["year"].to_pylist() == [2004, 1998, None]
    assert result["seats"].to_pylist() == [55, 182, 182]
    assert result["speed"].to_pylist() == [None, 450.0, None]


def test_timestamps_become_utc_microseconds() -> None:
    moments = [datetime(2013, 1, 1, 10, tzinfo=UTC), datetime(2013, 1, 1, 11, tzinfo=UTC)]
    data = pa.table(
        {
            "origin": ["EWR", "JFK"],
            "time_hour": pa.array(moments, type=pa.timestamp("s", tz="UTC")),
        }
    )

    result = conform("weather", data)

    assert result.schema.field("time_hour").type == pa.timestamp("us", tz="UTC")
    assert result["time_hour"].to_pylist() == moments


def test_unknown_columns_are_kept_at_the_end_and_missing_ones_are_not_invented() -> None:
    data = pa.table(
        {
            "loaded_by": ["etl", "etl", "etl"],
            "name": ["Endeavor Air Inc.", "Envoy Air", "ExpressJet Airlines Inc."],
            "carrier_code": ["9E", "MQ", "EV"],
        }
    )

    result = conform("airlines", data)

    assert result.column_names == ["name", "loaded_by", "carrier_code"]
    assert "carrier" not in result.column_names
    assert result["carrier_code"].to_pylist() == ["9E", "MQ", "EV"]
    assert result.num_rows == 3


@pytest.mark.parametrize(
    ("column", "values", "canonical"),
    [
        ("seats", pa.array(["55", "many", "182"]), "int32"),
        ("engines", pa.array([2.5, 2.0, 1.0]), "int32"),  # would silently truncate
        ("year", pa.array([2004, 2**40, 1998], type=pa.int64()), "int32"),  # would overflow
        ("speed", pa.array(["fast", "450", None]), "double"),
    ],
)
def test_uncastable_values_raise_schema_error_naming_table_and_column(
    column: str, values: pa.Array, canonical: str
) -> None:
    data = pa.table({"tailnum": ["N10156", "N102UW", "N103US"], column: values})

    with pytest.raises(SchemaError) as caught:
        conform("planes", data)

    message = str(caught.value)
    assert f"planes.{column}" in message
    assert canonical in message


def test_schema_error_is_a_value_error() -> None:
    assert issubclass(SchemaError, ValueError)


def test_an_empty_table_has_the_canonical_schema_and_conforms_to_itself() -> None:
    for table in SOURCE_TABLES:
        blank = empty(table)
        assert blank.num_rows == 0
        assert blank.schema.equals(SCHEMAS[table])
        assert conform(table, blank).equals(blank)


def test_every_source_table_is_daily_reference_or_next_day() -> None:
    assert set(DAILY_TABLES) | set(REFERENCE_TABLES) == set(SOURCE_TABLES)
    assert set(SOURCE_TABLES) | set(NEXT_DAY_TABLES) == set(SCHEMAS)
    assert not set(DAILY_TABLES) & set(REFERENCE_TABLES)
    assert not set(SOURCE_TABLES) & set(NEXT_DAY_TABLES)


def test_the_schedule_feed_carries_no_outcome() -> None:
    outcomes = {"dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"}
    assert not outcomes & set(SCHEMAS["schedule"].names)
    for name in SCHEMAS["schedule"].names:
        assert SCHEMAS["schedule"].field(name) == SCHEMAS["flights"].field(name)
    assert SCHEMAS["weather_forecast"] == SCHEMAS["weather"]
