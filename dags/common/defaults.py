"""Conventions every Nightshift DAG follows (checked by tests/dags)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from airflow.sdk import Param

from pipelines.settings import get_settings

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


def schedule_window(lead_setting: str | None = None) -> dict[str, datetime | None]:
    """``start_date``/``end_date`` from settings, so that the scheduler processes every day of
    ``[schedule_start + lead, schedule_end]``.

    The timetables fire at midnight D+1 for day D, and the scheduled run's logical date is D (the
    interval start). Airflow bounds the *firing* times by start/end date but creates task instances
    only when the logical date is on or after ``start_date``. Hence ``start_date`` is midnight of
    the first day (its first firing, for the day before, has no tasks and succeeds empty) and
    ``end_date`` midnight after the last day. ``lead_setting`` names the setting that delays the
    start (days): a DAG that needs history (training, scoring) begins once there is some.
    """
    settings = get_settings()
    lead = timedelta(days=getattr(settings, lead_setting) if lead_setting else 0)

    def midnight(day):
        return None if day is None else datetime.combine(day, time(0), tzinfo=UTC)

    start = midnight(settings.schedule_start + lead)
    end = None if settings.schedule_end is None else midnight(settings.schedule_end + timedelta(1))
    # A window shorter than the lead: the DAG gets no scheduled runs (manual ones still work).
    return {"start_date": start, "end_date": None if end is None else max(start, end)}
