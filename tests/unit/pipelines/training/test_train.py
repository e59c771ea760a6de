"""Training, tracking, registration and promotion on synthetic features and a temp MLflow store.

The synthetic partitions (``tests/fixtures/synthetic_features.py``) have a known signal that the
route-rate baseline only partly captures, so a fitted model beats it, as on the real data.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import models.flight_delay as fd
from pipelines.dates import Interval
from pipelines.storage import lake, registry
from pipelines.training import train
from pipelines.training.config import Split, TrainingConfig
from pipelines.training.dataset import InsufficientTrainingData, load_features
from tests.fixtures.synthetic_features import day_frame, write_features
from tests.fixtures.training import AS_OF, CONFIG, promote, train_quick

# --- Split and config ----------------------------------------------------------------------


def test_the_split_is_by_time_with_the_holdout_last() -> None:
    split = Split.plan(AS_OF, CONFIG)
    assert split.holdout == Interval.of("2013-02-05", "2013-02-12")
    assert split.validation == Interval.of("2013-01-29", "2013-02-05")
    assert split.search_train == Interval.of("2013-01-01", "2013-01-29")
    assert split.fit == Interval.of("2013-01-01", "2013-02-05")
    assert split.window.end == AS_OF


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"holdout_days": 0}, "holdout_days"),
        ({"window_days": 30, "holdout_days": 14}, "at least 2 x holdout_days"),
        ({"promotion_margin": -0.01}, "promotion_margin"),
        ({"search_budget": 500}, "search_budget"),
    ],
)
def test_config_refuses_windows_that_cannot_work(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**kwargs)


def test_config_from_params_ignores_unknown_and_none() -> None:
    config = TrainingConfig.from_params(
        {"window_days": 90, "as_of": "2013-03-01", "holdout_days": None}
    )
    assert config == TrainingConfig(window_days=90)


def test_search_candidates_are_seeded_distinct_and_start_with_the_defaults() -> None:
    first = train.sample_candidates(5)
    assert first == train.sample_candidates(5)
    assert first[0] == fd.default_params()
    assert len(first) == 6
    assert len({tuple(sorted(c.items())) for c in first}) == 6
    for candidate in first[1:]:
        assert all(candidate[k] in fd.SEARCH_SPACE[k] for k in candidate)
    assert train.sample_candidates(0) == [fd.default_params()]


# --- Loading features ----------------------------------------------------------------------


def test_load_features_records_partitions_and_drops_unlabelled_rows(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    days = Interval.of("2013-01-01", "2013-01-04")
    write_features(root, days, flights=50)
    frame = day_frame(date(2013, 1, 2), 50, seed=7)
    frame[fd.LABEL] = frame[fd.LABEL].astype("boolean")
    frame.loc[:9, fd.LABEL] = None  # cancelled flights: no outcome
    lake.write_partition(
        root, "features", "flight_features", date(2013, 1, 2), pa.Table.from_pandas(frame), "rerun"
    )
    lake.delete_partition(root, "features", "flight_features", date(2013, 1, 3))

    data = load_features(root, Interval.of("2013-01-01", "2013-01-05"))
    assert [
        (p["dt"].isoformat(), p["rows"], p["labelled_rows"], p["pipeline_run_id"])
        for p in data.partitions
    ] == [
        ("2013-01-01", 50, 50, "synthetic"),
        ("2013-01-02", 50, 40, "rerun"),
    ]
    assert data.missing_days == [date(2013, 1, 3), date(2013, 1, 4)]
    assert len(data.frame) == 90
    assert set(np.unique(data.y)) <= {0, 1}
    assert list(data.x.columns) == fd.FEATURES


def test_too_little_data_fails_saying_what_is_missing(tmp_path: Path, mlflow_store: str) -> None:
    root = tmp_path / "lake"
    write_features(root, Interval.of("2013-02-01", "2013-02-12"), flights=50)
    with pytest.raises(InsufficientTrainingData, match=r"training slice .* 2013-01-01"):
        train_quick(root, mlflow_store, tmp_path / "art")


# --- Train, register, promote ---------------------------------------------------------------


def test_train_register_promote_then_a_tie_keeps_the_champion(
    lake_root: Path, tmp_path: Path, mlflow_store: str, no_network: list
) -> None:
    import mlflow
    import mlflow.pyfunc

    artifacts = tmp_path / "mlartifacts"
    first = train_quick(lake_root, mlflow_store, artifacts)
    assert first.version == "1"
    assert first.metrics["roc_auc"] > first.baseline["roc_auc"]

    client = registry.client(mlflow_store)
    run = client.get_run(first.mlflow_run_id)
    assert run.data.params["split.holdout"] == "[2013-02-05, 2013-02-12)"
    assert run.data.params["data.fit_days"] == "35"
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(first.metrics["roc_auc"])
    assert "baseline_brier" in run.data.metrics
    assert run.data.tags["nightshift.pipeline_run_id"] == "r1"
    logged = {a.path for a in client.list_artifacts(first.mlflow_run_id, "plots")}
    assert logged == {
        "plots/roc_curve.png",
        "plots/precision_recall_curve.png",
        "plots/calibration_curve.png",
        "plots/feature_importance.png",
        "plots/feature_importance.json",
    }
    profile = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/reference/feature_profile.json")
    assert set(profile) == set(fd.FEATURES)
    assert profile["route_delay_rate_28d"]["kind"] == "numeric"
    assert sum(profile["route_delay_rate_28d"]["shares"]) == pytest.approx(1.0)
    partitions = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/data/partitions.json")
    assert len(partitions["partitions"]) == 42
    assert partitions["partitions"][0] == {
        "dt": "2013-01-01",
        "rows": 150,
        "labelled_rows": 150,
        "pipeline_run_id": "synthetic",
    }
    # Artifacts go to the configured root, never to the working directory.
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(artifacts)

    promoted = promote(lake_root, mlflow_store, first)
    assert promoted.decision == "promoted" and promoted.champion_after == "1"
    tags = client.get_model_version(fd.MODEL_NAME, "1").tags
    assert tags["promotion.decision"] == "promoted"
    assert tags["promotion.champion_version"] == "none"
    assert tags[registry.TAG_CHAMPION_FROM] == "2013-02-12"
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == "1"

    # Same data, same parameters: the same metrics (reproducible), hence a tie, hence no move.
    second = train_quick(lake_root, mlflow_store, artifacts, run="r2")
    assert second.version == "2"
    assert second.metrics == first.metrics
    rejected = promote(lake_root, mlflow_store, second, run="r2")
    assert rejected.decision == "rejected" and "ties the champion" in rejected.reason
    assert rejected.champion_before == rejected.champion_after == "1"
    tags = client.get_model_version(fd.MODEL_NAME, "2").tags
    assert tags["promotion.decision"] == "rejected"
    assert tags["promotion.champion_version"] == "1"
    assert registry.TAG_CHAMPION_FROM not in tags
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == "1"

    # MLflow explains each model: a classic ML experiment with a description, a described
    # registered model, and on every version its model card (description, run note, artifact).
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags[registry.TAG_EXPERIMENT_KIND] == "custom_model_development"
    assert "flight_delay_training" in experiment.tags[registry.TAG_NOTE]
    assert "@champion" in client.get_registered_model(fd.MODEL_NAME).description
    for version, result, decision in (("1", first, "promoted"), ("2", second, "rejected")):
        card = client.get_model_version(fd.MODEL_NAME, version).description
        assert card.startswith(f"# flight_delay version {version}: {decision}\n"), card[:80]
        assert "## Data" in card and "## Calibration (holdout)" in card
        assert "## Top features" in card and "## Holdout metrics" in card
        uri = f"{client.get_run(result.mlflow_run_id).info.artifact_uri}/model_card.md"
        assert mlflow.artifacts.load_text(uri) == card
        assert client.get_run(result.mlflow_run_id).data.tags[registry.TAG_NOTE] == card
    assert "| champion (version 1) |" in card and "ties the champion" in card

    # The champion loads by alias and returns probabilities.
    model = mlflow.pyfunc.load_model(f"models:/{fd.MODEL_NAME}@champion")
    rows = load_features(lake_root, Interval.day("2013-02-11")).x.head(20)
    proba = np.asarray(model.predict(rows))
    assert proba.shape == (20, 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert no_network == []


def test_a_retried_train_reuses_the_version_it_registered(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    first = train_quick(lake_root, mlflow_store, tmp_path / "art", run="retried")
    again = train_quick(lake_root, mlflow_store, tmp_path / "art", run="retried")
    assert again == first
    client = registry.client(mlflow_store)
    assert len(client.search_model_versions(f"name = '{fd.MODEL_NAME}'")) == 1


def test_nothing_is_written_to_the_working_directory(
    lake_root: Path, tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = train_quick(lake_root, mlflow_store, tmp_path / "art")
    promote(lake_root, mlflow_store, result)
    assert list(cwd.iterdir()) == []


def test_search_logs_one_child_run_per_trial_and_uses_the_best(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    config = TrainingConfig(window_days=42, holdout_days=7, search_budget=2)
    result = train.train_challenger(
        lake_root, mlflow_store, tmp_path / "art", AS_OF, config, "search", None
    )
    client = registry.client(mlflow_store)
    parent = client.get_run(result.mlflow_run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.mlflow_run_id}'",
    )
    assert len(children) == 3  # the reviewed defaults + 2 sampled trials
    best = max(children, key=lambda r: r.data.metrics["validation_roc_auc"])
    assert parent.data.metrics["search_best_validation_roc_auc"] == pytest.approx(
        best.data.metrics["validation_roc_auc"]
    )
    assert (
        parent.data.tags["nightshift.params_source"] == f"search trial {best.data.params['trial']}"
    )
    chosen = {k: str(v) for k, v in result.params.items()}
    assert {k: best.data.params[k] for k in chosen} == chosen


def test_no_champion_is_reported_with_how_to_get_one(mlflow_store: str) -> None:
    client = registry.client(mlflow_store)
    assert registry.get_champion(client, fd.MODEL_NAME) is None
    with pytest.raises(registry.NoChampionError, match="flight_delay_training"):
        registry.require_champion(client, fd.MODEL_NAME)
    assert registry.versions_table(client, fd.MODEL_NAME) == []
