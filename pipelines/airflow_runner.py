"""Run a DAG through Airflow, one ``dag.test()`` per day, in this process.

Used by ``make demo`` and the integration tests: every run goes through Airflow's own machinery
(a DagRun in the metadata DB, task instances, XComs, retries, ``depends_on_past``), without a
scheduler. The only module of ``pipelines`` that imports Airflow, and only inside functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

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


def run_days(dag_id: str, interval: Interval) -> list[DayRun]:
    """Run ``dag_id`` once per day of ``interval``; a failed day does not stop the next.

    The DAGs' timetable (a midnight ``CronTriggerTimetable`` with a one-day interval) gives a run
    at logical date L the interval [L - 1 day, L), for manual and scheduled runs alike: day D runs
    at D + 1, with the same logical date a scheduled or backfilled run of day D would have.
    """
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.settings import Session
    from airflow.utils.state import TaskInstanceState

    folder = conf.get("core", "dags_folder")
    # Like the DAG processor: the bundle's folder goes on sys.path, so DAG files import `common`.
    bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")
    if dag_id not in bag.dags:
        errors = "; ".join(f"{k}: {v}" for k, v in bag.import_errors.items()) or "none"
        raise LookupError(f"DAG {dag_id!r} not found in {folder} (import errors: {errors})")
    dag = bag.dags[dag_id]
    results = []
    for day in interval.days():
        logical = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
        dagrun = dag.test(logical_date=logical)
        with Session() as session:
            failed = sorted(
                ti.task_id
                for ti in dagrun.get_task_instances(session=session)
                if ti.state in (TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED)
            )
        results.append(DayRun(day.isoformat(), dagrun.run_id, str(dagrun.state), failed))
        log.info("%s %s: %s %s", dag_id, day, dagrun.state, failed or "")
    return results
