"""The windowed cron timetable: Airflow's cron trigger, bounded by the last day of the window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.trigger import CronTriggerTimetable
from pendulum import instance

from pipelines.tasks.timetable import WindowedCronTimetable

DAY = timedelta(days=1)


def _at(*args: int) -> datetime:
    return instance(datetime(*args, tzinfo=UTC))


def _scheduled(
    timetable, earliest: datetime, catchup: bool = True, limit: int = 1000
) -> list[DataInterval]:
    runs, last = [], None
    restriction = TimeRestriction(earliest=earliest, latest=None, catchup=catchup)
    while info := timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction
    ):
        runs.append(info.data_interval)
        last = info.data_interval
        if len(runs) == limit:
            break
    return runs


def test_the_schedule_ends_with_the_last_day() -> None:
    timetable = WindowedCronTimetable("0 0 * * *", interval=DAY, last_day=date(2013, 1, 10))
    runs = _scheduled(timetable, earliest=_at(2013, 1, 1))
    assert len(runs) == 11
    # The first firing, at the start, is for the day before (Airflow gives it no task).
    assert [r.start.date() for r in runs] == [date(2012, 12, 31)] + [
        date(2013, 1, d) for d in range(1, 11)
    ]
    assert runs[-1].end == _at(2013, 1, 11)
    # Without catch-up (now is years after 2013) nothing is scheduled either.
    assert _scheduled(timetable, earliest=_at(2013, 1, 1), catchup=False) == []


def test_a_weekly_schedule_ends_with_the_last_whole_week() -> None:
    timetable = WindowedCronTimetable("0 0 * * 1", interval=7 * DAY, last_day=date(2013, 3, 14))
    runs = _scheduled(timetable, earliest=_at(2013, 2, 1))
    # Mondays 4, 11 Feb, ..., 11 March: the run of Monday 18 March would end after the window.
    assert [r.end.date() for r in runs] == [date(2013, 2, 4) + 7 * DAY * i for i in range(6)]


@pytest.mark.parametrize(
    ("run_after", "expected"),
    [
        # Inside the window: Airflow's own rule, the day before the logical date.
        (_at(2013, 1, 5), (_at(2013, 1, 4), _at(2013, 1, 5))),
        (_at(2013, 1, 11), (_at(2013, 1, 10), _at(2013, 1, 11))),
        # After it (the Trigger form's default, now): the window's last day.
        (_at(2013, 1, 11, 0, 1), (_at(2013, 1, 10), _at(2013, 1, 11))),
        (_at(2026, 12, 2, 20, 4), (_at(2013, 1, 10), _at(2013, 1, 11))),
    ],
)
def test_a_manual_run_after_the_window_processes_its_last_day(run_after, expected) -> None:
    timetable = WindowedCronTimetable("0 0 * * *", interval=DAY, last_day=date(2013, 1, 10))
    assert timetable.infer_manual_data_interval(run_after=run_after) == DataInterval(*expected)


def test_without_a_last_day_it_is_airflows_cron_trigger() -> None:
    ours = WindowedCronTimetable("0 0 * * *", interval=DAY)
    theirs = CronTriggerTimetable("0 0 * * *", timezone="UTC", interval=DAY)
    assert ours.window_end is None
    run_after = _at(2026, 12, 2, 20, 4)
    assert ours.infer_manual_data_interval(
        run_after=run_after
    ) == theirs.infer_manual_data_interval(run_after=run_after)
    assert _scheduled(ours, _at(2013, 1, 1), limit=400) == _scheduled(
        theirs, _at(2013, 1, 1), limit=400
    )


@pytest.mark.parametrize("last_day", [date(2013, 3, 14), None])
def test_serialization_round_trip(last_day) -> None:
    timetable = WindowedCronTimetable("0 0 * * 1", interval=7 * DAY, last_day=last_day)
    back = WindowedCronTimetable.deserialize(timetable.serialize())
    assert back.last_day == last_day
    assert back.serialize() == timetable.serialize()
    assert back.summary.startswith("0 0 * * 1")
    assert ("until 2013-03-14" in back.summary) == (last_day is not None)
