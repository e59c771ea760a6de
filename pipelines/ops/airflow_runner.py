"""Run a DAG through Airflow, one ``dag.test()`` per day, in this process.

Used by ``make demo`` and the integration tests: every run goes through Airflow's own machinery
(a DagRun in the metadata DB, task instances, XComs, retries, ``depends_on_past``), without a
scheduler. Airflow is imported inside the functions, so the CLI starts fast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pipelines.dates import Interval

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayRun:
    day: str
    run_id: str
    state: str
    failed_tasks: list[str]


def migrate_metadata_db() -> None:
    """Create or upgrade the Airflow metadata DB (idempotent, quick when up to date)."""
    from airflow.utils.db import initdb

    initdb()


def _load_dag(dag_id: str):
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import BundleDagBag

    folder = conf.get("core", "dags_folder")
    # Like the DAG processor: the bundle's folder goes on sys.path, so DAG files import `common`.
    bag = BundleDagBag(dag_folder=folder, bundle_path=Path(folder), bundle_name="dags-folder")
    if dag_id not in bag.dags:
        errors = "; ".join(f"{k}: {v}" for k, v in bag.import_errors.items()) or "none"
        raise LookupError(f"DAG {dag_id!r} not found in {folder} (import errors: {errors})")
    return bag.dags[dag_id]


def _run(dag, label: str, logical: datetime, conf: dict[str, Any] | None) -> DayRun:
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    if dag.start_date is not None and logical < dag.start_date:
        # Airflow would create the run with no task instances and call it a success.
        raise ValueError(
            f"{dag.dag_id}: logical date {logical:%Y-%m-%d} is before the DAG's start_date "
            f"{dag.start_date:%Y-%m-%d}; no task would run"
        )
    dagrun = dag.test(logical_date=logical, run_conf=conf or None)
    with create_session() as session:
        failed = sorted(
            ti.task_id
            for ti in dagrun.get_task_instances(session=session)
            if ti.state in (TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED)
        )
    log.info("%s %s: %s %s", dag.dag_id, label, dagrun.state, failed or "")
    return DayRun(label, dagrun.run_id, str(dagrun.state), failed)


def run_time(day: date) -> datetime:
    """The logical date of a manual run that processes ``day``: midnight UTC after it."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def run_days(dag_id: str, interval: Interval, conf: dict[str, Any] | None = None) -> list[DayRun]:
    """Run ``dag_id`` once per day of ``interval``; a failed day does not stop the next.

    The DAGs' timetables (midnight ``CronTriggerTimetable``s) give a manual run at logical date L
    the interval that ends at L, so day D runs at D + 1 with interval [D, D + 1), the interval the
    scheduler's run of day D has (whose logical date is D, the interval start).
    """
    dag = _load_dag(dag_id)
    return [_run(dag, day.isoformat(), run_time(day), conf) for day in interval.days()]


def run_coarse(dag_id: str, interval: Interval, conf: dict[str, Any] | None = None) -> DayRun:
    """One run over the whole ``interval`` (params ``start``/``end``), at the run time of its
    last day: how a month is backfilled in one go."""
    dag = _load_dag(dag_id)
    params = {**(conf or {}), "start": str(interval.start), "end": str(interval.end)}
    last = interval.end - timedelta(days=1)
    return _run(dag, str(interval), run_time(last), params)
