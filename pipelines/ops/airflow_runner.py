"""Run a DAG through Airflow, one ``dag.test()`` per day, in this process.

Used by ``make demo`` and the integration tests: every run goes through Airflow's own machinery
(a DagRun in the metadata DB, task instances, XComs, ``depends_on_past``), without a scheduler.
Airflow is imported inside the functions, so the CLI starts fast.

Unlike the scheduler, these runs never retry: ``dag.test()`` would sleep through every retry
delay (minutes) in the foreground. Each task's retries are set to 0 on the DAG object parsed here,
never in the DAG files or the serialized DAG in the metadata DB, so a scheduled run of the same DAG
keeps its retry policy. A failed task fails at once, and its exception is kept for the report.
"""

from __future__ import annotations

import copy
import logging
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import Any

from pipelines.dates import Interval
from pipelines.ops import stopping
from pipelines.ops.inprocess_api import serve_head_version_only

log = logging.getLogger(__name__)

# The task that fails a scoring run while a monitoring incident is open (flight_delay_scoring).
ALERTING_TASK = "raise_alert"


@dataclass(frozen=True)
class DayRun:
    day: str
    run_id: str
    state: str
    failed_tasks: list[str]
    # task_id -> one line: the exception of each task that failed itself (not upstream_failed).
    reasons: dict[str, str] = field(default_factory=dict)
    # The tracebacks of those tasks (dag.test() writes no task log files of its own).
    log_file: Path | None = None
    # How long the run took, start to end.
    seconds: float | None = None

    @property
    def alerted(self) -> bool:
        """Failed only because monitoring marked it: the data path itself succeeded."""
        return self.state == "failed" and self.failed_tasks == [ALERTING_TASK]


def duration(seconds: float | None) -> str:
    """``4.2 s``, ``1 min 05 s``; empty when unknown."""
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.1f} s"


class RunRequestError(ValueError):
    """The DAG cannot run as asked (a date before its start, a param it does not have)."""


def migrate_metadata_db() -> None:
    """Create or upgrade the Airflow metadata DB (idempotent, quick when up to date)."""
    from airflow.utils.db import initdb

    initdb()


def load_dag(dag_id: str):
    """The DAG as the DAG processor parses it; ``LookupError`` if no file defines it."""
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import BundleDagBag

    folder = conf.get("core", "dags_folder")
    # Like the DAG processor: the bundle's folder goes on sys.path, so DAG files import `common`.
    bag = BundleDagBag(dag_folder=folder, bundle_path=Path(folder), bundle_name="dags-folder")
    if dag_id not in bag.dags:
        errors = "; ".join(f"{k}: {v}" for k, v in bag.import_errors.items()) or "none"
        raise LookupError(f"DAG {dag_id!r} not found in {folder} (import errors: {errors})")
    return bag.dags[dag_id]


def schedule_window_end(dag: Any) -> datetime | None:
    """Midnight after the schedule window's last day, from the DAG's timetable (None: open)."""
    from pipelines.tasks.timetable import windowed_timetable

    timetable = windowed_timetable(dag)
    return None if timetable is None else timetable.window_end


def check_request(
    dag, interval: Interval, conf: dict[str, Any] | None, coarse: bool = False
) -> None:
    """Refuse, before any run, what ``dag.test()`` would do wrong or fail on with a traceback."""
    first = interval.end - timedelta(days=1) if coarse else interval.start
    if dag.start_date is not None and run_time(first) < dag.start_date:
        # Airflow would create the run with no task instances and call it a success.
        earliest = (dag.start_date - timedelta(days=1)).date()
        raise RunRequestError(
            f"{dag.dag_id} processes days from {earliest} on (start_date "
            f"{dag.start_date:%Y-%m-%d}); {first} is earlier, so no task would run"
        )
    last = interval.end - timedelta(days=1)
    window_end = schedule_window_end(dag)
    if window_end is not None and run_time(last) > window_end:
        # The timetable would run the window's last interval instead (the Trigger form's case).
        latest = (window_end - timedelta(days=1)).date()
        raise RunRequestError(
            f"{dag.dag_id} processes days up to {latest} (its schedule window, "
            f"NIGHTSHIFT_SCHEDULE_END); {last} is later, so no task would run"
        )
    unknown = sorted(set(conf or {}) - set(dag.params))
    if unknown:
        known = ", ".join(sorted(dag.params)) or "none"
        raise RunRequestError(
            f"--conf: {dag.dag_id} has no param {', '.join(unknown)}; its params are {known}"
        )
    params = copy.deepcopy(dag.params)  # setting a value resolves it against its Param schema
    try:
        params.update(conf or {})
        params.validate()
    except Exception as exc:  # ParamValidationError, raised by Airflow inside dag.test() too
        raise RunRequestError(f"--conf: {' '.join(str(exc).split())}") from exc


def _fail_fast(dag) -> None:
    for task in dag.tasks:
        task.retries = 0
        # SIGTERM while a task runs reaches only the task's on_kill (see ops.stopping).
        if not getattr(task.on_kill, "_stops_the_run", False):
            task.on_kill = _stopping_on_kill(task.on_kill)


def _stopping_on_kill(original):
    def on_kill() -> None:
        original()
        stopping.request_stop()

    on_kill._stops_the_run = True  # type: ignore[attr-defined]
    return on_kill


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text}"


@contextmanager
def _watching_tasks(errors: dict[str, BaseException], label: str = "") -> Iterator[None]:
    """Keep each failed task's exception, and end dag.test() after a task if a stop arrived.

    ``dag.test()`` runs each task through ``airflow.sdk.definitions.dag._run_task`` and drops its
    result, which holds the exception; wrapping it (for this call only) is the one place to see it.
    """
    from unittest import mock

    import airflow.sdk.definitions.dag as sdk_dag

    run_task = sdk_dag._run_task

    def watched(*, ti, task, run_triggerer: bool = False):
        began = monotonic()
        try:
            result = run_task(ti=ti, task=task, run_triggerer=run_triggerer)
        finally:
            stopping.reinstall()
        error = result.error if result is not None else None
        if error is not None:
            errors[ti.task_id] = error
        _progress(ti, label, "failed" if error is not None else "done", monotonic() - began)
        stopping.raise_if_requested()
        return result

    with mock.patch.object(sdk_dag, "_run_task", watched):
        yield


def _progress(ti, label: str, state: str, seconds: float) -> None:
    """One line per task as it ends: ``  flights_daily 2013-03-08: extract done in 1.2 s``."""
    mapped = f" [{ti.map_index}]" if getattr(ti, "map_index", -1) >= 0 else ""
    print(f"  {ti.dag_id} {label}: {ti.task_id}{mapped} {state} in {duration(seconds)}", flush=True)


def _write_failures(dag_id: str, label: str, errors: dict[str, BaseException]) -> Path | None:
    from airflow.configuration import conf

    if not errors:
        return None
    folder = Path(conf.get("logging", "base_log_folder")) / "run-dag" / dag_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^0-9A-Za-z.-]+", "_", label).strip("_") + ".log")
    with path.open("w", encoding="utf-8") as out:
        for task_id, error in errors.items():
            out.write(f"--- {task_id}\n")
            out.write("".join(traceback.format_exception(error)))
    return path


def _close_stopped_run(dag_id: str, logical: datetime) -> None:
    """Mark a run cut short by a stop as failed, so nothing picks its tasks up later."""
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    cut_short = [TaskInstanceState.SCHEDULED, TaskInstanceState.QUEUED, TaskInstanceState.RUNNING]

    try:
        if settings.Session is not None:
            settings.Session.remove()  # the interrupted session may be mid-transaction
        with create_session() as session:
            query = select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical)
            for dagrun in session.scalars(query):
                if dagrun.state == DagRunState.RUNNING:
                    for ti in dagrun.get_task_instances(state=cut_short, session=session):
                        ti.set_state(TaskInstanceState.FAILED, session=session)
                    dagrun.set_state(DagRunState.FAILED)
    except Exception:  # best effort: the stop itself must still be reported
        log.warning("could not mark the stopped run of %s failed", dag_id, exc_info=True)


def _run(dag, label: str, logical: datetime, conf: dict[str, Any] | None) -> DayRun:
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    if dag.start_date is not None and logical < dag.start_date:
        raise RunRequestError(
            f"{dag.dag_id}: logical date {logical:%Y-%m-%d} is before the DAG's start_date "
            f"{dag.start_date:%Y-%m-%d}; no task would run"
        )
    _fail_fast(dag)
    serve_head_version_only()
    errors: dict[str, BaseException] = {}
    began = monotonic()
    try:
        with _watching_tasks(errors, label):
            dagrun = dag.test(logical_date=logical, run_conf=conf or None)
    except stopping.RunStopped:
        _close_stopped_run(dag.dag_id, logical)
        raise
    with create_session() as session:
        failed = sorted(
            ti.task_id
            for ti in dagrun.get_task_instances(session=session)
            if ti.state in (TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED)
        )
    reasons = {task_id: _one_line(error) for task_id, error in errors.items() if task_id in failed}
    log_file = _write_failures(dag.dag_id, label, {t: errors[t] for t in reasons})
    log.info("%s %s: %s %s", dag.dag_id, label, dagrun.state, failed or "")
    took = monotonic() - began
    return DayRun(label, dagrun.run_id, str(dagrun.state), failed, reasons, log_file, took)


def run_time(day: date) -> datetime:
    """The logical date of a manual run that processes ``day``: midnight UTC after it."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def iter_days(dag, interval: Interval, conf: dict[str, Any] | None = None) -> Iterator[DayRun]:
    """Run ``dag`` once per day of ``interval``, yielding each run as it ends."""
    for day in interval.days():
        yield _run(dag, day.isoformat(), run_time(day), conf)


def run_days(dag_id: str, interval: Interval, conf: dict[str, Any] | None = None) -> list[DayRun]:
    """Run ``dag_id`` once per day of ``interval``; a failed day does not stop the next.

    The DAGs' timetables (midnight ``CronTriggerTimetable``s) give a manual run at logical date L
    the interval that ends at L, so day D runs at D + 1 with interval [D, D + 1), the interval the
    scheduler's run of day D has (whose logical date is D, the interval start).
    """
    return list(iter_days(load_dag(dag_id), interval, conf))


def run_coarse(
    dag_id: str, interval: Interval, conf: dict[str, Any] | None = None, dag=None
) -> DayRun:
    """One run over the whole ``interval`` (params ``start``/``end``), at the run time of its
    last day: how a month is backfilled in one go."""
    dag = dag if dag is not None else load_dag(dag_id)
    params = {**(conf or {}), "start": str(interval.start), "end": str(interval.end)}
    last = interval.end - timedelta(days=1)
    return _run(dag, str(interval), run_time(last), params)
