"""The ``files`` source: landing CSVs per table per day, reference snapshots, bad drops."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from pipelines.dates import Interval
from pipelines.ingest.sources.base import SourceDataMissing, UnreadableSourceData
from pipelines.ingest.sources.files import FilesSource, generate_landing, landing_file
from pipelines.ingest.sources.nycflights import day_of
from pipelines.ingest.sources.schemas import SCHEMAS
from pipelines.tables import DAILY_TABLES, REFERENCE_TABLES, SOURCE_TABLES

INTERVAL = Interval(date(2013, 1, 1), date(2013, 1, 4))  # end exclusive: 2013-01-01..2013-01-03


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """One generated landing zone shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("landing")
    return root, generate_landing(root, INTERVAL)


@pytest.fixture
def landing(generated: tuple[Path, dict[str, int]], tmp_path: Path) -> Path:
    """A private copy of the landing zone for a test that edits it."""
    copy = tmp_path / "landing"
    shutil.copytree(generated[0], copy)
    return copy


def test_generate_landing_writes_a_file_per_daily_table_per_day(
    generated: tuple[Path, dict[str, int]],
) -> None:
    root, written = generated

    assert written == {
        "flights": 3,
        "weather": 3,
        "schedule": 3,
        "weather_forecast": 3,
        "planes": 1,
        "airports": 1,
        "airlines": 1,
    }
    for table in DAILY_TABLES:
        assert sorted(p.name for p in (root / table).iterdir()) == [
            "2013-01-01.csv",
            "2013-01-02.csv",
            "2013-01-03.csv",
        ]
    # End exclusive: nothing for 2013-01-04.
    assert not landing_file(root, "flights", date(2013, 1, 4)).exists()
    # The next-day feeds are published the evening before: each day of the range publishes the
    # schedule and forecast of the day after, so they run one day later.
    for table in ("schedule", "weather_forecast"):
        assert sorted(p.name for p in (root / table).iterdir()) == [
            "2013-01-02.csv",
            "2013-01-03.csv",
            "2013-01-04.csv",
        ]


def test_the_schedule_feed_is_the_days_flights_without_outcomes(
    generated: tuple[Path, dict[str, int]],
) -> None:
    root, _ = generated
    source = FilesSource(root)
    schedule = source.extract("schedule", date(2013, 1, 3))
    flights = source.extract("flights", date(2013, 1, 3))
    assert schedule.num_rows == flights.num_rows
    assert schedule.column_names == list(SCHEMAS["schedule"].names)
    assert schedule.equals(flights.select(SCHEMAS["schedule"].names))
    forecast = source.extract("weather_forecast", date(2013, 1, 3))
    assert forecast.equals(source.extract("weather", date(2013, 1, 3)))


def test_reference_tables_get_one_snapshot_dated_the_interval_start(
    generated: tuple[Path, dict[str, int]],
) -> None:
    root, _ = generated

    for table in REFERENCE_TABLES:
        assert [p.name for p in (root / table).iterdir()] == ["2013-01-01.csv"]


def test_generate_landing_leaves_no_temporary_files(
    generated: tuple[Path, dict[str, int]],
) -> None:
    root, _ = generated

    leftovers = [p for p in root.rglob("*") if p.is_file() and p.suffix != ".csv"]
    assert leftovers == []


def test_extract_of_a_daily_table_equals_that_day_of_the_dataset(
    generated: tuple[Path, dict[str, int]],
) -> None:
    source = FilesSource(generated[0])

    flights = source.extract("flights", date(2013, 1, 2))

    assert source.kind == "files"
    assert flights.num_rows == 943
    assert flights.schema.equals(SCHEMAS["flights"])
    assert flights.equals(day_of("flights", date(2013, 1, 2)))
    assert set(flights["day"].to_pylist()) == {2}


def test_extract_of_weather_is_that_day_of_the_dataset(
    generated: tuple[Path, dict[str, int]],
) -> None:
    weather = FilesSource(generated[0]).extract("weather", date(2013, 1, 3))

    assert weather.schema.equals(SCHEMAS["weather"])
    assert weather.equals(day_of("weather", date(2013, 1, 3)))
    assert weather.num_rows > 0


@pytest.mark.parametrize("day", [date(2013, 1, 1), date(2013, 1, 3)])
def test_a_reference_table_on_any_later_day_is_the_snapshot_dated_on_or_before(
    generated: tuple[Path, dict[str, int]], day: date
) -> None:
    airlines = FilesSource(generated[0]).extract("airlines", day)

    assert airlines.schema.equals(SCHEMAS["airlines"])
    assert airlines.equals(day_of("airlines", day))


def test_the_newest_reference_snapshot_on_or_before_the_day_is_chosen(landing: Path) -> None:
    full = day_of("planes", date(2013, 1, 1))
    republished = full.slice(0, 7)
    pacsv.write_csv(republished, landing_file(landing, "planes", date(2013, 1, 3)))
    source = FilesSource(landing)

    on_the_day = source.extract("planes", date(2013, 1, 3))
    day_before = source.extract("planes", date(2013, 1, 2))
    later = source.extract("planes", date(2013, 3, 1))

    assert on_the_day.num_rows == 7
    assert on_the_day.equals(republished)
    assert day_before.num_rows == full.num_rows
    assert day_before.equals(full)
    assert later.num_rows == 7


def test_a_reference_table_before_its_first_snapshot_is_missing(
    generated: tuple[Path, dict[str, int]],
) -> None:
    with pytest.raises(SourceDataMissing, match=r"planes.*2012-12-31"):
        FilesSource(generated[0]).extract("planes", date(2012, 12, 31))


@pytest.mark.parametrize("table", DAILY_TABLES)
def test_a_missing_daily_file_raises_source_data_missing_naming_table_and_date(
    generated: tuple[Path, dict[str, int]], table: str
) -> None:
    with pytest.raises(SourceDataMissing) as caught:
        FilesSource(generated[0]).extract(table, date(2013, 1, 4))

    message = str(caught.value)
    assert table in message
    assert "2013-01-04" in message


def test_an_empty_landing_zone_raises_source_data_missing_for_every_table(tmp_path: Path) -> None:
    source = FilesSource(tmp_path / "nothing-here")
    for table in SOURCE_TABLES:
        with pytest.raises(SourceDataMissing, match=table):
            source.extract(table, date(2013, 1, 1))


def test_an_unknown_table_is_refused(generated: tuple[Path, dict[str, int]]) -> None:
    with pytest.raises(ValueError, match="unknown source table 'passengers'"):
        FilesSource(generated[0]).extract("passengers", date(2013, 1, 1))


def test_a_renamed_column_is_extracted_as_is_for_validation_to_report(landing: Path) -> None:
    path = landing_file(landing, "flights", date(2013, 1, 2))
    header, _, body = path.read_text(encoding="utf-8").partition("\n")
    assert '"carrier"' in header.split(",")
    path.write_text(header.replace('"carrier"', '"carrier_code"') + "\n" + body, encoding="utf-8")

    flights = FilesSource(landing).extract("flights", date(2013, 1, 2))

    assert flights.num_rows == 943
    assert "carrier" not in flights.column_names
    assert flights.column_names[-1] == "carrier_code"
    expected = day_of("flights", date(2013, 1, 2))
    assert flights["carrier_code"].to_pylist() == expected["carrier"].to_pylist()
    # The other columns still arrive typed as the canonical schema says.
    for field in SCHEMAS["flights"]:
        if field.name != "carrier":
            assert flights.schema.field(field.name).type == field.type


def test_a_non_numeric_value_in_a_numeric_column_is_unreadable_naming_file_line_and_column(
    landing: Path,
) -> None:
    rows = day_of("flights", date(2013, 1, 2)).slice(0, 3)
    delays = pc.cast(rows["dep_delay"], pa.string()).to_pylist()
    delays[1] = "about ten minutes"
    index = rows.column_names.index("dep_delay")
    broken = rows.set_column(index, "dep_delay", pa.array(delays, type=pa.string()))
    path = landing_file(landing, "flights", date(2013, 1, 2))
    pacsv.write_csv(broken, path)

    with pytest.raises(UnreadableSourceData) as caught:
        FilesSource(landing).extract("flights", date(2013, 1, 2))

    assert str(path) in str(caught.value)
    assert "about ten minutes" in str(caught.value)
    # Row 1 of the data is line 3 of the file; dep_delay is its sixth field.
    assert (caught.value.line, caught.value.column, caught.value.column_name) == (3, 6, "dep_delay")
    assert caught.value.file == path
