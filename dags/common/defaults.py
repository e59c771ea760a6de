"""Conventions every Nightshift DAG follows (checked by tests/dags)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from airflow.sdk import Param

from pipelines.settings import get_settings
from pipelines.tasks.timetable import WindowedCronTimetable

OWNER = "data-platform"

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=2),
}


def interval_params() -> dict[str, Param]:
    """Params ``start``/``end`` (both or neither): one run over a range instead of the interval."""
    date_param = {"type": ["null", "string"], "format": "date"}
    return {
        "start": Param(
            None, description="First day (YYYY-MM-DD); default: interval start.", **date_param
        ),
        "end": Param(
            None, description="Day after the last (exclusive); default: interval end.", **date_param
        ),
    }


def history_params() -> dict[str, Param]:
    """The audited override of the feature stages' history check (off unless set on purpose)."""
    return {
        "allow_incomplete_history": Param(
            False,
            type="boolean",
            description=(
                "Build features even when a day of the 28-day history is missing or blocked; "
                "the rows are stamped with history_missing_days. Leave off unless the day is "
                "lost for good."
            ),
        )
    }


def window_timetable(cron: str, days: int) -> WindowedCronTimetable:
    """Fires at ``cron`` (UTC) for the ``days`` before, up to the last day of the schedule window.

    The run firing at midnight D+1 processes ``[D+1 - days, D+1)``; its logical date is the
    interval start. The window's end bounds the timetable rather than the DAG's ``end_date``, so
    that a run triggered after the window (the Trigger form's default) processes its last
    interval instead of being created with no task (see ``pipelines/tasks/timetable.py``).
    """
    return WindowedCronTimetable(
        cron, interval=timedelta(days=days), last_day=get_settings().schedule_end
    )


def schedule_start(lead_setting: str | None = None) -> datetime:
    """``start_date`` from settings: midnight of ``schedule_start + lead``.

    Airflow creates task instances only when the logical date (the interval start, day D) is on
    or after ``start_date``, so the first day processed is exactly this one (its first firing, for
    the day before, has no tasks and succeeds empty). ``lead_setting`` names the setting that
    delays the start (days): a DAG that needs history (training, scoring) begins once there is
    some. A window shorter than the lead gives the DAG no scheduled runs (manual ones still work).
    """
    settings = get_settings()
    lead = timedelta(days=getattr(settings, lead_setting) if lead_setting else 0)
    return datetime.combine(settings.schedule_start + lead, time(0), tzinfo=UTC)
