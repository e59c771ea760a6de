"""The shape of each DAG: task order, assets, Params, schedules and the links between DAGs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import Asset, AssetOrTimeSchedule
from airflow.timetables.base import TimeRestriction

from pipelines.settings import get_settings
from pipelines.tasks.timetable import WindowedCronTimetable

# --- flights_daily structure -------------------------------------------------------------------


def _outlet_names(task) -> set[str]:
    return {o.name for o in task.outlets if isinstance(o, Asset)}


def test_lake_writers_declare_asset_outlets(dags: dict) -> None:
    dag = dags["flights_daily"]
    publish = _outlet_names(dag.get_task("validate_and_publish"))
    missing = {"raw.flights", "raw.weather", "quality.validation_results"} - publish
    assert not missing, f"validate_and_publish outlets {sorted(publish)} lack {sorted(missing)}"
    features = _outlet_names(dag.get_task("build_features"))
    assert "features.flight_features" in features, features


def test_task_order(dags: dict) -> None:
    dag = dags["flights_daily"]
    chain = [
        "plan_chunks",
        "extract",
        "validate_and_publish",
        "build_features",
        "refresh_warehouse",
    ]
    assert set(dag.task_ids) == set(chain)
    for upstream, downstream in itertools.pairwise(chain):
        # plan_chunks also feeds validate_and_publish its chunk (same mapped group as extract).
        assert downstream in dag.get_task(upstream).downstream_task_ids, upstream
        assert dag.get_task(downstream).upstream_task_ids <= {"plan_chunks", upstream}, downstream
    assert dag.get_task("plan_chunks").upstream_task_ids == set()
    assert dag.get_task("refresh_warehouse").downstream_task_ids == set()


def test_extract_and_validation_fan_out_by_chunk_and_features_fan_in(dags: dict) -> None:
    """A long run maps one extract and one validation per chunk of days (in parallel on the
    workers); features wait for every chunk, then build the interval in day order."""
    dag = dags["flights_daily"]
    for task_id in ("extract", "validate_and_publish"):
        group = dag.get_task(task_id).get_closest_mapped_task_group()
        assert group is not None and group.group_id == "ingest", task_id
    for task_id in ("plan_chunks", "build_features", "refresh_warehouse"):
        assert dag.get_task(task_id).get_closest_mapped_task_group() is None, task_id


def test_no_task_depends_on_past_so_the_backfill_dialog_works_with_its_defaults(
    dags: dict,
) -> None:
    # The feature stages refuse an incomplete history themselves (pipelines/history.py).
    for dag in dags.values():
        assert not [t.task_id for t in dag.tasks if t.depends_on_past], dag.dag_id


def test_the_history_override_is_a_param_off_by_default(dags: dict) -> None:
    for dag_id in ("flights_daily", "flight_delay_scoring"):
        params = dags[dag_id].params
        assert params["allow_incomplete_history"] is False, dag_id


def test_start_end_params_default_to_none(dags: dict) -> None:
    params = dags["flights_daily"].params
    for name in ("start", "end"):
        assert name in params, f"param {name!r} missing: {list(params)}"
        assert params.get_param(name).value is None
        assert params[name] is None


# --- flight_delay_training structure ------------------------------------------------------------


def test_training_runs_weekly_on_monday_with_a_seven_day_interval(dags: dict) -> None:
    dag = dags["flight_delay_training"]
    # Weekly, or when monitoring raises the model alert.
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert isinstance(dag.timetable.timetable, WindowedCronTimetable)
    assert {a.name for a in dag.timetable.asset_condition.objects} == {"models.flight_delay_alert"}
    timetable = dag.timetable.timetable
    first = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert first.run_after.weekday() == 0, first.run_after  # Monday 00:00 UTC
    assert first.data_interval.end == first.run_after
    assert first.data_interval.end - first.data_interval.start == timedelta(days=7)
    # Six weeks into the schedule: enough history for the default split to have data.
    assert first.run_after.date() >= get_settings().schedule_start + timedelta(days=42)
    # A manual trigger trains as of the moment it is triggered for.
    manual = timetable.infer_manual_data_interval(run_after=datetime(2013, 3, 1, tzinfo=UTC))
    assert manual.end == datetime(2013, 3, 1, tzinfo=UTC)


def test_training_tasks_and_params(dags: dict) -> None:
    dag = dags["flight_delay_training"]
    assert dag.get_task("wait_for_features").downstream_task_ids == {"train"}
    assert dag.get_task("train").downstream_task_ids == {"evaluate_and_promote"}
    assert dag.get_task("evaluate_and_promote").downstream_task_ids == set()
    sensor = dag.get_task("wait_for_features")
    assert sensor.mode == "reschedule", "a waiting sensor must not hold a worker slot"
    assert dag.max_active_runs == 1, "promotions compare against the champion: one run at a time"
    params = dag.params
    assert {k: params[k] for k in params} == {
        "window_days": 182,
        "holdout_days": 14,
        "promotion_margin": 0.002,
        "search_budget": 0,
        "as_of": None,
    }


def test_training_params_are_validated(dags: dict) -> None:
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    params = dags["flight_delay_training"].params
    for bad in ({"holdout_days": 0}, {"search_budget": -1}, {"window_days": "many"}):
        candidate = ParamsDict({k: params.get_param(k) for k in params})
        with pytest.raises(ParamValidationError):
            candidate.update(bad)
    # The defaults are valid as they are.
    ParamsDict({k: params.get_param(k) for k in params}).validate()


def test_training_outlets_and_inlets(dags: dict) -> None:
    dag = dags["flight_delay_training"]
    inlets = {a.name for a in dag.get_task("wait_for_features").inlets if isinstance(a, Asset)}
    assert inlets == {"features.flight_features"}
    for task_id in ("train", "evaluate_and_promote"):
        outlets = {a.name for a in dag.get_task(task_id).outlets if isinstance(a, Asset)}
        assert outlets == {"models.flight_delay"}, task_id


# --- flight_delay_scoring structure -------------------------------------------------------------


def test_scoring_task_graph(dags: dict) -> None:
    dag = dags["flight_delay_scoring"]
    down = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    watcher = "fail_run_if_a_task_failed"
    assert down == {
        "extract_next_day": {"validate_next_day", watcher},
        "validate_next_day": {"score_next_day", watcher},
        "wait_for_features": {"score_next_day", "monitor", watcher},
        "score_next_day": {"publish_predictions", "monitor", watcher},
        "publish_predictions": {"refresh_warehouse", watcher},
        "monitor": {
            "notify_incidents",
            "raise_alert",
            "request_retraining",
            "refresh_warehouse",
            watcher,
        },
        "notify_incidents": {watcher},
        # A leaf of its own: red while an incident is open, which marks the run, and never
        # retried (an open incident is not a fault that a retry fixes).
        "raise_alert": set(),
        "request_retraining": {watcher},
        "refresh_warehouse": {watcher},
        watcher: set(),
    }
    assert dag.get_task(watcher).trigger_rule == "one_failed"
    # Monitoring and the catalog refresh run even when scoring failed (no champion yet).
    assert dag.get_task("monitor").trigger_rule == "all_done"
    assert dag.get_task("refresh_warehouse").trigger_rule == "all_done"
    assert dag.get_task("wait_for_features").mode == "reschedule"
    assert dag.get_task("raise_alert").retries == 0


def test_scoring_params(dags: dict) -> None:
    params = dags["flight_delay_scoring"].params
    assert {k: params[k] for k in params} == {
        "start": None,
        "end": None,
        "allow_incomplete_history": False,
        "model_version_policy": "current_champion",
    }


def test_the_alert_asset_links_scoring_to_training(dags: dict) -> None:
    emitted = {a.name for a in dags["flight_delay_scoring"].get_task("request_retraining").outlets}
    assert emitted == {"models.flight_delay_alert"}
    predictions = {a.name for a in dags["flight_delay_scoring"].get_task("score_next_day").outlets}
    assert predictions == {"scores.flight_delay_predictions"}


def test_training_params_come_from_the_run_config(dags: dict) -> None:
    """The Trigger form and the run validate with the same bounds: one definition."""
    from pipelines.training.config import PARAMS, TrainingConfig

    params = dags["flight_delay_training"].params
    for name, spec in PARAMS.items():
        schema = params.get_param(name).schema
        assert (params[name], schema["minimum"], schema["maximum"]) == (
            spec.default,
            spec.minimum,
            spec.maximum,
        ), name
    # The form's defaults make a valid config (the cross-field rule holds at the defaults).
    TrainingConfig.from_params({k: params[k] for k in PARAMS})


def test_assets_are_grouped_by_layer(dags: dict) -> None:
    """The UI's asset list groups by group: each lake table's is its layer, not one flat list."""
    groups = {}
    for dag in dags.values():
        for task in dag.tasks:
            for asset in [*task.outlets, *task.inlets]:
                if isinstance(asset, Asset):
                    groups[asset.name] = asset.group
    for name, group in groups.items():
        layer = name.split(".")[0]
        wanted = {"warehouse": "warehouse", "models": "registry"}.get(layer, layer)
        assert group == wanted, (name, group)
    assert {"raw", "quarantine", "quality", "features", "scores", "monitoring"} <= set(
        groups.values()
    )
