"""The champion/challenger rule, case by case (pure numbers, no MLflow)."""

from __future__ import annotations

import pytest

from pipelines.evaluation import Metrics
from pipelines.promotion import PROMOTED, REJECTED, decide_promotion


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
