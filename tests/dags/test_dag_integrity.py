"""DAG integrity: every DAG file parses and follows the conventions (owner, tags, retries,
runbook, catchup, one-day intervals). Parsed the way the DAG processor does it (``BundleDagBag``
with the dags folder as the bundle, so DAG files can import ``common``), without a metadata DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.dag_processing.dagbag import BundleDagBag
from airflow.serialization.definitions.dag import SerializedDAG
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import TimeRestriction

from pipelines.settings import get_settings
from pipelines.tasks.timetable import WindowedCronTimetable, windowed_timetable
from tests.fixtures.dags import (
    CATCHUP_DAGS,
    DAGS_DIR,
    DAILY_DAGS,
    EXPECTED_DAG_IDS,
    NO_RETRY_TASKS,
    OWNER,
    REQUIRED_TAG,
    dag_files,
    ignored_dirs,
)

# --- Parsing -----------------------------------------------------------------------------------


def test_no_import_errors(dagbag: BundleDagBag) -> None:
    assert dagbag.import_errors == {}, "\n".join(
        f"{path}:\n{error}" for path, error in dagbag.import_errors.items()
    )


def test_every_dag_file_is_parsed_and_defines_a_dag(dagbag: BundleDagBag) -> None:
    files = dag_files()
    assert files, f"no DAG files found in {DAGS_DIR}"
    stats = {Path(s.file).as_posix(): s for s in dagbag.dagbag_stats}
    for path in files:
        rel = path.relative_to(DAGS_DIR).as_posix()
        assert rel in stats, f"{rel} was not parsed (parsed: {sorted(stats)})"
        assert stats[rel].dag_num >= 1, f"{rel} defines no DAG"


def test_shared_modules_are_not_parsed_as_dag_files(dagbag: BundleDagBag) -> None:
    assert "common" in ignored_dirs(), "dags/.airflowignore must exclude common/"
    parsed = {Path(s.file).as_posix() for s in dagbag.dagbag_stats}
    assert not [p for p in parsed if p.startswith("common/")], parsed


def test_expected_dag_ids_exist(dags: dict) -> None:
    missing = EXPECTED_DAG_IDS - set(dags)
    assert not missing, f"missing DAGs {sorted(missing)}; found {sorted(dags)}"


# --- Conventions, for every DAG --------------------------------------------------------------


def test_owner_is_the_team(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag.default_args.get("owner") == OWNER, f"{dag_id}: default_args owner"
        for task in dag.tasks:
            assert task.owner == OWNER, f"{dag_id}.{task.task_id}: owner {task.owner!r}"


def test_tags(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert REQUIRED_TAG in dag.tags, f"{dag_id} tags {sorted(dag.tags)} lack {REQUIRED_TAG!r}"


def test_retries(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag.default_args.get("retries", 0) >= 1, f"{dag_id}: default retries must be >= 1"
        for task in dag.tasks:
            if task.task_id in NO_RETRY_TASKS:
                continue
            assert task.retries >= 1, f"{dag_id}.{task.task_id}: retries {task.retries}"


def test_validate_and_publish_does_not_retry(dags: dict) -> None:
    assert dags["flights_daily"].get_task("validate_and_publish").retries == 0


def test_doc_md_is_a_runbook(dags: dict) -> None:
    for dag_id, dag in dags.items():
        doc = dag.doc_md or ""
        assert doc.strip(), f"{dag_id} has no doc_md"
        assert "When it fails" in doc, f"{dag_id} doc_md lacks a 'When it fails' section"
        assert "backfill" in doc.lower(), f"{dag_id} doc_md does not say how to backfill"


def test_catchup(dags: dict) -> None:
    for dag_id, dag in dags.items():
        wanted = dag_id in CATCHUP_DAGS
        assert dag.catchup is wanted, f"{dag_id}: catchup must be {wanted}"


def test_max_active_runs(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag.max_active_runs is not None and dag.max_active_runs > 0, (
            f"{dag_id}: max_active_runs {dag.max_active_runs!r}"
        )


def test_timetable_gives_one_day_data_intervals(dags: dict) -> None:
    for dag_id, lead_days in DAILY_DAGS.items():
        dag = dags[dag_id]
        # A bare cron string gives a zero-length interval in Airflow 3: the timetable must be one
        # that carries a real interval (a cron trigger with interval=1 day here).
        assert isinstance(dag.timetable, WindowedCronTimetable), (
            f"{dag_id}: timetable {type(dag.timetable).__name__}"
        )
        timetable = dag.timetable
        settings = get_settings()
        start = settings.schedule_start + timedelta(days=lead_days)
        # Every scheduled run, start to end, as the scheduler would create them (catch-up).
        runs, info = [], None
        restriction = TimeRestriction(earliest=dag.start_date, latest=dag.end_date, catchup=True)
        while info := timetable.next_dagrun_info_v2(last_dagrun_info=info, restriction=restriction):
            runs.append(info)
        for run in runs:
            assert run.data_interval.end - run.data_interval.start == timedelta(days=1)
            assert run.data_interval.end == run.run_after
        # Airflow creates task instances only when the logical date (the interval start, day D)
        # is on or after start_date: the days that really run are exactly the schedule window.
        processed = [r.data_interval.start.date() for r in runs if r.logical_date >= dag.start_date]
        assert processed[0] == start, f"{dag_id}: the first day with tasks is {processed[0]}"
        assert processed[-1] == settings.schedule_end, f"{dag_id}: last day {processed[-1]}"
        assert len(processed) == (settings.schedule_end - start).days + 1
        for run_after in (
            datetime(2013, 1, 2, tzinfo=UTC),
            datetime(2013, 3, 11, tzinfo=UTC),  # the US DST switch: UTC days stay 24 h
            datetime(2013, 12, 31, tzinfo=UTC),
        ):
            interval = timetable.infer_manual_data_interval(run_after=run_after)
            assert interval.end - interval.start == timedelta(days=1), (
                f"{dag_id}: interval {interval} for run_after {run_after}"
            )
            # The run at midnight D+1 processes day D.
            assert interval.end == run_after, f"{dag_id}: {interval} for run_after {run_after}"


def test_dags_keep_their_window_through_serialization(dags: dict) -> None:
    # The scheduler and the API server see the DAG as serialized: the custom timetable must come
    # back (registered by plugins/nightshift.py) with the window's last day.
    last_day = get_settings().schedule_end
    for dag_id, dag in dags.items():
        served: SerializedDAG = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        timetable = windowed_timetable(served)
        assert isinstance(timetable, WindowedCronTimetable), f"{dag_id}: {type(timetable)}"
        assert timetable.last_day == last_day, f"{dag_id}: last day {timetable.last_day}"
        assert timetable.serialize() == windowed_timetable(dag).serialize()


def test_a_run_triggered_after_the_window_processes_its_last_interval(dags: dict) -> None:
    # The Trigger form proposes now as the logical date. With an end_date Airflow would create
    # that run with no task; the window bounds the timetable instead, and such a run processes
    # the window's last interval.
    last_day = get_settings().schedule_end
    window_end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    now = datetime.now(UTC)
    for dag_id, dag in dags.items():
        served = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        assert served.end_date is None, f"{dag_id}: end_date {served.end_date}"
        for task in served.tasks:
            assert task.end_date is None, f"{dag_id}.{task.task_id}: end_date {task.end_date}"
            assert task.start_date <= now
        timetable = windowed_timetable(served)
        assert timetable is not None, f"{dag_id}: timetable {served.timetable}"
        interval = timetable.infer_manual_data_interval(run_after=now)
        assert interval.end == window_end, f"{dag_id}: {interval}"
        assert interval.end - interval.start == timetable._interval
        # Nothing is scheduled after the last interval, with or without catch-up.
        for catchup in (True, False):
            restriction = TimeRestriction(earliest=served.start_date, latest=None, catchup=catchup)
            after = timetable.next_dagrun_info(
                last_automated_data_interval=interval, restriction=restriction
            )
            assert after is None, f"{dag_id}: {after} is past the window (catchup={catchup})"
