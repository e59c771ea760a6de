"""Half-open day intervals and the date coercion every stage relies on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipelines.dates import Interval, as_date


def test_days_are_the_half_open_range_start_to_end() -> None:
    interval = Interval(date(2013, 1, 30), date(2013, 2, 2))

    assert list(interval.days()) == [date(2013, 1, 30), date(2013, 1, 31), date(2013, 2, 1)]
    assert len(interval) == 3
    assert str(interval) == "[2013-01-30, 2013-02-02)"


def test_one_day_interval() -> None:
    interval = Interval.day("2013-12-31")

    assert interval == Interval(date(2013, 12, 31), date(2014, 1, 1))
    assert list(interval.days()) == [date(2013, 12, 31)]
    assert len(interval) == 1


def test_a_whole_year_has_365_days() -> None:
    interval = Interval.of("2013-01-01", "2014-01-01")

    days = list(interval.days())
    assert len(interval) == len(days) == 365
    assert days[0] == date(2013, 1, 1)
    assert days[-1] == date(2013, 12, 31)


def test_of_accepts_dates_datetimes_and_strings() -> None:
    interval = Interval.of(datetime(2013, 1, 1, 0, 0, tzinfo=UTC), "2013-01-03")

    assert interval == Interval(date(2013, 1, 1), date(2013, 1, 3))


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2013, 1, 2), date(2013, 1, 2)), (date(2013, 1, 3), date(2013, 1, 2))],
)
def test_an_empty_interval_is_refused_with_a_helpful_message(start: date, end: date) -> None:
    with pytest.raises(ValueError) as caught:
        Interval(start, end)

    message = str(caught.value)
    assert "empty data interval" in message
    assert f"[{start}, {end})" in message
    assert "end must be after start" in message
    assert "CronDataIntervalTimetable" in message  # the fix for the usual cause


def test_a_cron_style_zero_length_airflow_interval_is_refused() -> None:
    # Airflow's CronTriggerTimetable gives data_interval_start == data_interval_end.
    moment = datetime(2013, 1, 2, 0, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="empty data interval"):
        Interval.of(moment, moment)


def test_as_date_keeps_a_date() -> None:
    assert as_date(date(2013, 1, 2)) == date(2013, 1, 2)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2013, 1, 2, 0, 0),
        datetime(2013, 1, 2, 23, 59, 59),
        datetime(2013, 1, 2, 6, 0, tzinfo=UTC),
        datetime(2013, 1, 2, 6, 0, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_as_date_of_a_datetime_is_its_calendar_day_as_a_plain_date(value: datetime) -> None:
    result = as_date(value)

    assert result == date(2013, 1, 2)
    assert type(result) is date  # not a datetime, which would compare unequal to dates


@pytest.mark.parametrize(
    "value", ["2013-01-02", "2013-01-02T00:00:00", "2013-01-02T00:00:00+00:00", "2013-01-02 17:30"]
)
def test_as_date_parses_iso_strings(value: str) -> None:
    result = as_date(value)

    assert result == date(2013, 1, 2)
    assert type(result) is date


def test_as_date_rejects_a_non_iso_string() -> None:
    with pytest.raises(ValueError):
        as_date("01/02/2013")


def test_chunks_cover_the_interval_in_order_without_overlap() -> None:
    year = Interval.of("2013-01-01", "2014-01-01")
    chunks = year.chunks(31)
    assert len(chunks) == 12 and chunks[0] == Interval.of("2013-01-01", "2013-02-01")
    assert [d for c in chunks for d in c.days()] == list(year.days())
    assert Interval.day("2013-05-05").chunks(31) == [Interval.day("2013-05-05")]
    with pytest.raises(ValueError, match="at least one day"):
        year.chunks(0)
