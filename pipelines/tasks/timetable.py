"""The DAGs' timetable: a cron trigger bounded by the schedule window, whose manual runs after the
window process the window's last interval.

Why not ``CronTriggerTimetable`` with the DAG's ``end_date``: Airflow creates a run's task
instances only when its logical date is inside ``[start_date, end_date]``. The UI's Trigger form
proposes *now* as the logical date, which on a bounded window (the demo's 2013, or a backfill
environment) is after ``end_date``: the run is created with no task and shows green having done
nothing. This timetable bounds the schedule itself instead (no scheduled or backfilled run after
``last_day``) and leaves the DAG without an ``end_date``, so that a manual run after the window
re-runs its last interval, the one an operator pressing Trigger wants.

Airflow deserializes a custom timetable only when a plugin registers it, in every process that
reads the DAG (scheduler, API server, DAG processor, workers, tests): ``plugins/nightshift.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.trigger import CronTriggerTimetable
from pendulum import UTC, DateTime


class WindowedCronTimetable(CronTriggerTimetable):
    """``CronTriggerTimetable`` (fires at ``cron``, interval ``[fire - interval, fire)``) whose
    intervals end no later than midnight after ``last_day`` (UTC); ``None`` means unbounded."""

    def __init__(
        self,
        cron: str,
        *,
        interval: dt.timedelta,
        last_day: dt.date | None = None,
        timezone: Any = "UTC",
    ) -> None:
        super().__init__(cron, timezone=timezone, interval=interval)
        self.last_day = last_day
        if last_day is not None:  # shown under the DAG's schedule in the UI
            self.description = f"{self.description}, until {last_day.isoformat()}"

    @property
    def window_end(self) -> DateTime | None:
        """Midnight (UTC) after the last day: the latest end of any interval."""
        if self.last_day is None:
            return None
        day = self.last_day + dt.timedelta(days=1)
        return DateTime(day.year, day.month, day.day, tzinfo=UTC)

    @property
    def summary(self) -> str:
        until = "" if self.last_day is None else f" until {self.last_day.isoformat()}"
        return f"{self._expression}{until}"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        info = super().next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )
        end = self.window_end
        interval = None if info is None else info.data_interval
        if interval is None or end is None or interval.end <= end:
            return info
        return None

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        end = self.window_end
        if end is not None and run_after > end:
            # Triggered after the window (the Trigger form proposes now): the last interval.
            return DataInterval(end - self._interval, end)
        return super().infer_manual_data_interval(run_after=run_after)

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> WindowedCronTimetable:
        base = CronTriggerTimetable.deserialize(data)
        assert isinstance(base, CronTriggerTimetable)
        last_day = data.get("last_day")
        return cls(
            base._expression,
            interval=base._interval,
            last_day=None if last_day is None else dt.date.fromisoformat(last_day),
            timezone=base._timezone,
        )

    def serialize(self) -> dict[str, Any]:
        last_day = None if self.last_day is None else self.last_day.isoformat()
        return {**super().serialize(), "last_day": last_day}


def windowed_timetable(dag: Any) -> WindowedCronTimetable | None:
    """The DAG's windowed timetable (training's sits inside an ``AssetOrTimeSchedule``), or None
    when the DAG is scheduled otherwise."""
    timetable = getattr(dag.timetable, "timetable", dag.timetable)
    return timetable if isinstance(timetable, WindowedCronTimetable) else None
