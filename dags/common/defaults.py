"""Conventions every Nightshift DAG follows (checked by tests/dags)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from pipelines.settings import get_settings

OWNER = "data-platform"

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=2),
}


def schedule_window(lead: timedelta = timedelta(0)) -> dict[str, datetime | None]:
    """``start_date``/``end_date`` from settings, as run times: the run for day D fires at D+1.

    ``lead`` delays the start: a DAG that needs history (training) begins once there is some.
    """
    settings = get_settings()

    def midnight(day):
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)

    return {
        "start_date": midnight(settings.schedule_start + lead),
        "end_date": midnight(settings.schedule_end),
    }
