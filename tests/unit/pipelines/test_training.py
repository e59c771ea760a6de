"""Training, tracking, registration and promotion on synthetic features and a temp MLflow store.

The synthetic partitions (``tests/fixtures/synthetic_features.py``) have a known signal that the
route-rate baseline only partly captures, so a fitted model beats it, as on the real data.
"""

from __future__ import annotations

import socket
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import models.flight_delay as fd
from pipelines import lake, registry, training
from pipelines.dates import Interval
from pipelines.training import InsufficientTrainingData, Split, TrainingConfig
from tests.fixtures.synthetic_features import day_frame, write_features

AS_OF = date(2013, 2, 12)
CONFIG = TrainingConfig(window_days=42, holdout_days=7, promotion_margin=0.002)
WINDOW = Interval(AS_OF - timedelta(days=42), AS_OF)
# Fewer trees than params.json: these tests check the plumbing, not the model.
QUICK = {"max_iter": 60}
WEAK = {"max_iter": 3, "max_leaf_nodes": 3, "learning_rate": 0.3}


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    write_features(root, WINDOW, flights=150)
    return root


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list:
    """Fail any outbound connection: MLflow on a local store must not need the network."""
    attempts: list = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network connection attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def _train(lake_root: Path, uri: str, artifacts: Path, params=QUICK, config=CONFIG, run="r1"):
    return training.train_challenger(lake_root, uri, artifacts, AS_OF, config, run, params)


def _promote(lake_root: Path, uri: str, result, margin=CONFIG.promotion_margin, run="r1"):
    return training.evaluate_and_promote(
        lake_root, uri, result.version, Interval.of(*result.holdout), result.as_of, margin, run
    )


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
    first = training.sample_candidates(5)
    assert first == training.sample_candidates(5)
    assert first[0] == fd.default_params()
    assert len(first) == 6
    assert len({tuple(sorted(c.items())) for c in first}) == 6
    for candidate in first[1:]:
        assert all(candidate[k] in fd.SEARCH_SPACE[k] for k in candidate)
    assert training.sample_candidates(0) == [fd.default_params()]


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

    data = training.load_features(root, Interval.of("2013-01-01", "2013-01-05"))
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
        _train(root, mlflow_store, tmp_path / "art")


# --- Train, register, promote ---------------------------------------------------------------


def test_train_register_promote_then_a_tie_keeps_the_champion(
    lake_root: Path, tmp_path: Path, mlflow_store: str, no_network: list
) -> None:
    import mlflow
    import mlflow.pyfunc

    artifacts = tmp_path / "mlartifacts"
    first = _train(lake_root, mlflow_store, artifacts)
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

    promoted = _promote(lake_root, mlflow_store, first)
    assert promoted.decision == "promoted" and promoted.champion_after == "1"
    tags = client.get_model_version(fd.MODEL_NAME, "1").tags
    assert tags["promotion.decision"] == "promoted"
    assert tags["promotion.champion_version"] == "none"
    assert tags[registry.TAG_CHAMPION_FROM] == "2013-02-12"
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == "1"

    # Same data, same parameters: the same metrics (reproducible), hence a tie, hence no move.
    second = _train(lake_root, mlflow_store, artifacts, run="r2")
    assert second.version == "2"
    assert second.metrics == first.metrics
    rejected = _promote(lake_root, mlflow_store, second, run="r2")
    assert rejected.decision == "rejected" and "ties the champion" in rejected.reason
    assert rejected.champion_before == rejected.champion_after == "1"
    tags = client.get_model_version(fd.MODEL_NAME, "2").tags
    assert tags["promotion.decision"] == "rejected"
    assert tags["promotion.champion_version"] == "1"
    assert registry.TAG_CHAMPION_FROM not in tags
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == "1"

    # The champion loads by alias and returns probabilities.
    model = mlflow.pyfunc.load_model(f"models:/{fd.MODEL_NAME}@champion")
    rows = training.load_features(lake_root, Interval.day("2013-02-11")).x.head(20)
    proba = np.asarray(model.predict(rows))
    assert proba.shape == (20, 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert no_network == []


def test_a_better_challenger_moves_the_alias_and_a_worse_one_does_not(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    client = registry.client(mlflow_store)
    artifacts = tmp_path / "mlartifacts"
    weak = _train(
        lake_root,
        mlflow_store,
        artifacts,
        params=WEAK,
    )
    assert _promote(lake_root, mlflow_store, weak).decision == "promoted"

    strong = _train(lake_root, mlflow_store, artifacts, run="r2")
    assert strong.metrics["roc_auc"] > weak.metrics["roc_auc"] + CONFIG.promotion_margin
    result = _promote(lake_root, mlflow_store, strong, run="r2")
    assert result.decision == "promoted", result.reason
    assert (result.champion_before, result.champion_after) == (weak.version, strong.version)
    old = client.get_model_version(fd.MODEL_NAME, weak.version).tags
    assert old[registry.TAG_SUPERSEDED_BY] == strong.version
    assert old[registry.TAG_CHAMPION_UNTIL] == "2013-02-12"

    worse = _train(
        lake_root,
        mlflow_store,
        artifacts,
        params=WEAK,
        run="r3",
    )
    result = _promote(lake_root, mlflow_store, worse, run="r3")
    assert result.decision == "rejected"
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == strong.version
    # The champion's numbers on this holdout are logged into the challenger's run.
    run = client.get_run(worse.mlflow_run_id)
    assert run.data.metrics["champion_roc_auc"] == pytest.approx(strong.metrics["roc_auc"])


def test_promoting_the_champion_again_changes_nothing(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    client = registry.client(mlflow_store)
    first = _train(lake_root, mlflow_store, tmp_path / "art")
    assert _promote(lake_root, mlflow_store, first).decision == "promoted"
    tags = client.get_model_version(fd.MODEL_NAME, first.version).tags
    again = _promote(lake_root, mlflow_store, first)
    assert again.decision == "promoted" and again.champion_after == first.version
    assert client.get_model_version(fd.MODEL_NAME, first.version).tags == tags


def test_a_rerun_completes_a_hand_over_interrupted_after_the_alias_moved(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    client = registry.client(mlflow_store)
    weak = _train(lake_root, mlflow_store, tmp_path / "art", params=WEAK)
    _promote(lake_root, mlflow_store, weak)
    strong = _train(lake_root, mlflow_store, tmp_path / "art", run="r2")
    # The crash: the champion was recorded and the alias moved, nothing else was written.
    client.set_model_version_tag(fd.MODEL_NAME, strong.version, "promotion.champion_version", "1")
    client.set_registered_model_alias(fd.MODEL_NAME, registry.CHAMPION, strong.version)

    result = _promote(lake_root, mlflow_store, strong, run="r2")
    assert result.decision == "promoted" and result.champion_before == weak.version
    new = client.get_model_version(fd.MODEL_NAME, strong.version).tags
    old = client.get_model_version(fd.MODEL_NAME, weak.version).tags
    assert new["promotion.decision"] == "promoted"
    assert new[registry.TAG_CHAMPION_FROM] == str(AS_OF)
    assert old[registry.TAG_SUPERSEDED_BY] == strong.version


def test_champion_on_a_date_follows_the_hand_overs(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    client = registry.client(mlflow_store)
    config = TrainingConfig(window_days=35, holdout_days=7)
    first = training.train_challenger(
        lake_root, mlflow_store, tmp_path / "art", AS_OF - timedelta(days=7), config, "a", WEAK
    )
    training.evaluate_and_promote(
        lake_root, mlflow_store, first.version, Interval.of(*first.holdout), first.as_of, 0, "a"
    )
    second = _train(lake_root, mlflow_store, tmp_path / "art", run="b")
    assert _promote(lake_root, mlflow_store, second, run="b").decision == "promoted"

    def on(day: str) -> str:
        return str(registry.champion_on(client, fd.MODEL_NAME, day).version)

    assert on("2013-02-05") == on("2013-02-11") == first.version  # champion_from .. until
    assert on("2013-02-12") == on("2013-06-01") == second.version
    with pytest.raises(registry.NoChampionError, match="was champion on 2013-02-04"):
        registry.champion_on(client, fd.MODEL_NAME, "2013-02-04")


def test_a_model_trained_as_of_an_earlier_day_never_replaces_the_champion(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    client = registry.client(mlflow_store)
    newer = _train(lake_root, mlflow_store, tmp_path / "art", params=WEAK)
    _promote(lake_root, mlflow_store, newer)
    config = TrainingConfig(window_days=35, holdout_days=7)
    older = training.train_challenger(
        lake_root, mlflow_store, tmp_path / "art", AS_OF - timedelta(days=7), config, "old", QUICK
    )
    result = training.evaluate_and_promote(
        lake_root, mlflow_store, older.version, Interval.of(*older.holdout), older.as_of, 0.0, "old"
    )
    assert result.decision == "rejected" and "before the champion's" in result.reason
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == newer.version


def test_a_champion_fitted_on_other_features_is_still_scored_on_its_own_columns(
    lake_root: Path, tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = registry.client(mlflow_store)
    # The champion was fitted when the model also used month and day_of_year.
    monkeypatch.setattr(fd, "NUMERIC", [*fd.NUMERIC, "month", "day_of_year"])
    monkeypatch.setattr(fd, "FEATURES", fd.CATEGORICAL + fd.NUMERIC)
    old = _train(lake_root, mlflow_store, tmp_path / "art", params=WEAK)
    _promote(lake_root, mlflow_store, old)
    monkeypatch.undo()
    new = _train(lake_root, mlflow_store, tmp_path / "art", run="r2")
    result = _promote(lake_root, mlflow_store, new, run="r2")
    assert result.champion is not None and result.champion["rows"] > 0
    assert result.decision == "promoted", result.reason
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == new.version


def test_a_retried_train_reuses_the_version_it_registered(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    first = _train(lake_root, mlflow_store, tmp_path / "art", run="retried")
    again = _train(lake_root, mlflow_store, tmp_path / "art", run="retried")
    assert again == first
    client = registry.client(mlflow_store)
    assert len(client.search_model_versions(f"name = '{fd.MODEL_NAME}'")) == 1


def test_nothing_is_written_to_the_working_directory(
    lake_root: Path, tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = _train(lake_root, mlflow_store, tmp_path / "art")
    _promote(lake_root, mlflow_store, result)
    assert list(cwd.iterdir()) == []


def test_search_logs_one_child_run_per_trial_and_uses_the_best(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    config = TrainingConfig(window_days=42, holdout_days=7, search_budget=2)
    result = training.train_challenger(
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
