"""Promotion: the champion/challenger rule case by case (pure numbers), then the stage that
applies it on a temporary MLflow store (hand-overs, reruns, older models, old feature sets)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import models.flight_delay as fd
from pipelines.dates import Interval
from pipelines.evaluation import Metrics
from pipelines.storage import registry
from pipelines.training import promotion, train
from pipelines.training.config import TrainingConfig
from pipelines.training.promotion import PROMOTED, REJECTED, decide_promotion
from tests.fixtures.training import AS_OF, CONFIG, QUICK, WEAK, promote, train_quick


def m(roc_auc: float, brier: float = 0.15) -> Metrics:
    return Metrics(
        roc_auc=roc_auc,
        pr_auc=0.4,
        brier=brier,
        log_loss=0.5,
        rows=1000,
        positive_rate=0.2,
        mean_prediction=0.2,
    )


BASELINE = m(0.61, brier=0.17)
MARGIN = 0.005


def test_first_model_that_beats_the_baseline_becomes_champion() -> None:
    d = decide_promotion(m(0.70), BASELINE, None, MARGIN)
    assert d.promote and d.outcome == PROMOTED
    assert "no champion yet" in d.reason
    assert d.champion_roc_auc is None


def test_first_model_that_does_not_beat_the_baseline_is_rejected() -> None:
    d = decide_promotion(m(0.60), BASELINE, None, MARGIN)
    assert not d.promote and d.outcome == REJECTED
    assert "does not beat the baseline" in d.reason and "ROC-AUC" in d.reason


def test_equal_to_the_baseline_is_not_beating_it() -> None:
    assert not decide_promotion(m(0.61), BASELINE, None, MARGIN).promote


def test_better_ranking_but_worse_calibration_than_the_baseline_is_rejected() -> None:
    d = decide_promotion(m(0.70, brier=0.18), BASELINE, None, MARGIN)
    assert not d.promote
    assert "Brier" in d.reason


def test_better_than_the_champion_by_more_than_the_margin_is_promoted() -> None:
    d = decide_promotion(m(0.72), BASELINE, m(0.70), MARGIN)
    assert d.promote
    assert "+0.0200" in d.reason
    assert d.champion_roc_auc == 0.70


def test_exactly_the_margin_is_enough() -> None:
    # 0.705 - 0.70 is 0.00499999... in floating point: still exactly the margin.
    assert decide_promotion(m(0.705), BASELINE, m(0.70), 0.005).promote
    assert decide_promotion(m(0.75), BASELINE, m(0.70), 0.05).promote


def test_better_within_the_margin_is_rejected() -> None:
    d = decide_promotion(m(0.703), BASELINE, m(0.70), MARGIN)
    assert not d.promote
    assert "within the margin" in d.reason


def test_a_tie_is_rejected_even_with_zero_margin() -> None:
    d = decide_promotion(m(0.70), BASELINE, m(0.70), 0.0)
    assert not d.promote
    assert "ties the champion" in d.reason


def test_worse_than_the_champion_is_rejected() -> None:
    d = decide_promotion(m(0.68), BASELINE, m(0.70), MARGIN)
    assert not d.promote
    assert "worse than the champion" in d.reason


def test_beating_the_champion_does_not_excuse_losing_to_the_baseline() -> None:
    # The champion may have degraded below the baseline; the challenger still has to beat it.
    d = decide_promotion(m(0.60), BASELINE, m(0.55), MARGIN)
    assert not d.promote
    assert "baseline" in d.reason


def test_much_worse_calibrated_than_the_champion_is_rejected() -> None:
    d = decide_promotion(m(0.72, brier=0.165), BASELINE, m(0.70, brier=0.15), MARGIN)
    assert not d.promote
    assert "calibrated" in d.reason


def test_the_margin_must_be_sane() -> None:
    with pytest.raises(ValueError, match="margin"):
        decide_promotion(m(0.7), BASELINE, None, -0.1)


def test_tags_record_the_decision_and_its_numbers() -> None:
    tags = decide_promotion(m(0.703), BASELINE, m(0.70), MARGIN).as_tags()
    assert tags == {
        "promotion.decision": "rejected",
        "promotion.reason": tags["promotion.reason"],
        "promotion.challenger_roc_auc": "0.703000",
        "promotion.baseline_roc_auc": "0.610000",
        "promotion.champion_roc_auc": "0.700000",
        "promotion.margin": "0.005",
    }


def test_a_challenger_trained_on_older_data_never_replaces_the_champion() -> None:
    d = decide_promotion(m(0.80), BASELINE, m(0.70), MARGIN, "2013-03-01", "2013-04-01")
    assert not d.promote
    assert "before the champion's 2013-04-01" in d.reason
    # Same or later data: the metrics decide.
    assert decide_promotion(m(0.80), BASELINE, m(0.70), MARGIN, "2013-04-01", "2013-04-01").promote
    assert decide_promotion(m(0.80), BASELINE, m(0.70), MARGIN, "2013-04-08", "2013-04-01").promote


# --- The promotion stage on a temporary MLflow store ----------------------------------------


def test_a_better_challenger_moves_the_alias_and_a_worse_one_does_not(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    client = registry.client(mlflow_store)
    artifacts = tmp_path / "mlartifacts"
    weak = train_quick(
        lake_root,
        mlflow_store,
        artifacts,
        params=WEAK,
    )
    assert promote(lake_root, mlflow_store, weak).decision == "promoted"

    strong = train_quick(lake_root, mlflow_store, artifacts, run="r2")
    assert strong.metrics["roc_auc"] > weak.metrics["roc_auc"] + CONFIG.promotion_margin
    result = promote(lake_root, mlflow_store, strong, run="r2")
    assert result.decision == "promoted", result.reason
    assert (result.champion_before, result.champion_after) == (weak.version, strong.version)
    old = client.get_model_version(fd.MODEL_NAME, weak.version).tags
    assert old[registry.TAG_SUPERSEDED_BY] == strong.version
    assert old[registry.TAG_CHAMPION_UNTIL] == "2013-02-12"

    worse = train_quick(
        lake_root,
        mlflow_store,
        artifacts,
        params=WEAK,
        run="r3",
    )
    result = promote(lake_root, mlflow_store, worse, run="r3")
    assert result.decision == "rejected"
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == strong.version
    # The champion's numbers on this holdout are logged into the challenger's run.
    run = client.get_run(worse.mlflow_run_id)
    assert run.data.metrics["champion_roc_auc"] == pytest.approx(strong.metrics["roc_auc"])


def test_promoting_the_champion_again_changes_nothing(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    client = registry.client(mlflow_store)
    first = train_quick(lake_root, mlflow_store, tmp_path / "art")
    assert promote(lake_root, mlflow_store, first).decision == "promoted"
    tags = client.get_model_version(fd.MODEL_NAME, first.version).tags
    again = promote(lake_root, mlflow_store, first)
    assert again.decision == "promoted" and again.champion_after == first.version
    assert client.get_model_version(fd.MODEL_NAME, first.version).tags == tags


def test_a_rerun_completes_a_hand_over_interrupted_after_the_alias_moved(
    lake_root: Path, tmp_path: Path, mlflow_store: str
) -> None:
    client = registry.client(mlflow_store)
    weak = train_quick(lake_root, mlflow_store, tmp_path / "art", params=WEAK)
    promote(lake_root, mlflow_store, weak)
    strong = train_quick(lake_root, mlflow_store, tmp_path / "art", run="r2")
    # The crash: the champion was recorded and the alias moved, nothing else was written.
    client.set_model_version_tag(fd.MODEL_NAME, strong.version, "promotion.champion_version", "1")
    client.set_registered_model_alias(fd.MODEL_NAME, registry.CHAMPION, strong.version)

    result = promote(lake_root, mlflow_store, strong, run="r2")
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
    first = train.train_challenger(
        lake_root, mlflow_store, tmp_path / "art", AS_OF - timedelta(days=7), config, "a", WEAK
    )
    promotion.evaluate_and_promote(
        lake_root, mlflow_store, first.version, Interval.of(*first.holdout), first.as_of, 0, "a"
    )
    second = train_quick(lake_root, mlflow_store, tmp_path / "art", run="b")
    assert promote(lake_root, mlflow_store, second, run="b").decision == "promoted"

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
    newer = train_quick(lake_root, mlflow_store, tmp_path / "art", params=WEAK)
    promote(lake_root, mlflow_store, newer)
    config = TrainingConfig(window_days=35, holdout_days=7)
    older = train.train_challenger(
        lake_root, mlflow_store, tmp_path / "art", AS_OF - timedelta(days=7), config, "old", QUICK
    )
    result = promotion.evaluate_and_promote(
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
    old = train_quick(lake_root, mlflow_store, tmp_path / "art", params=WEAK)
    promote(lake_root, mlflow_store, old)
    monkeypatch.undo()
    new = train_quick(lake_root, mlflow_store, tmp_path / "art", run="r2")
    result = promote(lake_root, mlflow_store, new, run="r2")
    assert result.champion is not None and result.champion["rows"] > 0
    assert result.decision == "promoted", result.reason
    assert str(registry.get_champion(client, fd.MODEL_NAME).version) == new.version
