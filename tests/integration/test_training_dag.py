"""flight_delay_training end to end through Airflow (``dag.test()``), on a temporary MLflow store.

Synthetic feature partitions stand in for a month of the data path (see
``tests/fixtures/synthetic_features.py``); the DAG, its Params, the sensor, XComs between the
tasks, MLflow tracking, the registry and the alias are all real.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

import models.flight_delay as fd
from pipelines.dates import Interval
from pipelines.ops.airflow_runner import migrate_metadata_db, run_days
from pipelines.settings import get_settings
from pipelines.storage import registry
from pipelines.training.dataset import load_features
from tests.fixtures.synthetic_features import write_features

pytestmark = pytest.mark.integration

DAG_ID = "flight_delay_training"
AS_OF = date(2013, 2, 19)  # the DAG starts 42 days into the schedule (2013-02-13)
# The run at AS_OF (a manual run's interval ends at its logical date) trains as of AS_OF.
RUN_DAY = Interval.day(AS_OF - timedelta(days=1))
CONF = {"window_days": 42, "holdout_days": 7}


@pytest.fixture(scope="module")
def metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def env(metadata_db: None, data_dir, mlflow_store: str):
    settings = get_settings()
    write_features(settings.lake_root, Interval(AS_OF - timedelta(days=42), AS_OF), flights=150)
    return settings


def _task_instance(run_id: str, task_id: str):
    from airflow.models.taskinstance import TaskInstance
    from airflow.settings import Session
    from sqlalchemy import select

    with Session() as session:
        return session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == DAG_ID,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
        ).one()


def _xcom(run_id: str, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.settings import Session
    from sqlalchemy import select

    with Session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == DAG_ID,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        ).first()
        if row is None:
            return None
        return XComModel.deserialize_value(row)


def test_training_runs_register_promote_once_and_the_champion_serves(env) -> None:
    import mlflow.pyfunc

    [first] = run_days(DAG_ID, RUN_DAY, CONF)
    assert first.state == "success", first.failed_tasks
    decided = _xcom(first.run_id, "evaluate_and_promote")
    assert (decided["decision"], decided["champion_after"]) == ("promoted", "1")
    client = registry.client(env.mlflow_tracking_uri)
    champion = registry.get_champion(client, fd.MODEL_NAME)
    assert champion is not None and str(champion.version) == "1"
    tags = champion.tags
    assert tags["promotion.decision"] == "promoted"
    assert tags["data.as_of"] == str(AS_OF)
    assert tags["nightshift.pipeline_run_id"] == first.run_id
    assert tags["promotion.decided_by"] == first.run_id
    run = client.get_run(champion.run_id)
    assert run.data.params["config.window_days"] == "42"
    assert run.data.params["split.holdout"] == "[2013-02-12, 2013-02-19)"
    assert run.data.metrics["holdout_roc_auc"] > run.data.metrics["baseline_roc_auc"]

    # The second run on the same data ties: recorded as rejected, the alias does not move.
    [second] = run_days(DAG_ID, RUN_DAY, CONF)
    assert second.state == "success", second.failed_tasks
    tags = client.get_model_version(fd.MODEL_NAME, "2").tags
    assert tags["promotion.decision"] == "rejected"
    assert "ties the champion" in tags["promotion.reason"]
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == "1"
    # Every registered version carries its model card, with the decision the DAG made.
    for version, decision in (("1", "promoted"), ("2", "rejected")):
        card = client.get_model_version(fd.MODEL_NAME, version).description
        assert card.startswith(f"# flight_delay version {version}: {decision}\n"), card[:80]
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags[registry.TAG_EXPERIMENT_KIND] == registry.CLASSIC_ML_KIND

    rows = load_features(env.lake_root, Interval.day(AS_OF - timedelta(days=1))).x
    proba = np.asarray(mlflow.pyfunc.load_model(f"models:/{fd.MODEL_NAME}@champion").predict(rows))
    assert proba.shape == (len(rows), 2)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_the_as_of_param_and_missing_history_fail_the_train_task_clearly(env) -> None:
    # As of 2013-01-25 the window reaches back before the lake's first day: too little to train.
    [run] = run_days(DAG_ID, RUN_DAY, {**CONF, "as_of": "2013-01-25"})
    assert run.state == "failed"
    assert run.failed_tasks == ["evaluate_and_promote", "train"]
    # A PermanentError: failed on the first try, no retry (train has retries=1 for infrastructure).
    train = _task_instance(run.run_id, "train")
    assert (train.state, train.try_number) == ("failed", 1)
    client = registry.client(env.mlflow_tracking_uri)
    assert registry.versions_table(client, fd.MODEL_NAME) == []


def test_a_run_before_the_start_date_is_refused_not_an_empty_success(env) -> None:
    with pytest.raises(ValueError, match="before the DAG's start_date"):
        run_days(DAG_ID, Interval.day(date(2013, 1, 20)), CONF)
