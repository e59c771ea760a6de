"""Realized performance and alerts, with known answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

import models.flight_delay as fd
from pipelines.monitoring.performance import alerts, realized_performance
from pipelines.settings import Settings

DAY = date(2013, 3, 5)


def _predictions(probabilities: list[float]) -> pd.DataFrame:
    n = len(probabilities)
    return pd.DataFrame(
        {
            "flight_date": [DAY] * n,
            "carrier": ["AA"] * n,
            "flight_number": list(range(1, n + 1)),
            "origin": ["JFK"] * n,
            "probability": probabilities,
            "risk_band": [fd.risk_band(p) for p in probabilities],
            "model_version": ["3"] * n,
        }
    )


def test_realized_performance_known_answer() -> None:
    predictions = _predictions([0.1, 0.4, 0.35, 0.8, 0.5])
    outcomes = predictions[fd.KEY].copy()
    # Flight 5 was cancelled: scored, but no outcome.
    outcomes[fd.LABEL] = pd.array([False, False, True, True, None], dtype="boolean")
    got = realized_performance(predictions, outcomes)
    row = got.row
    assert (row["flights_scored"], row["flights_labelled"]) == (5, 4)
    assert row["roc_auc"] == pytest.approx(0.75)
    assert row["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert row["predicted_delay_rate"] == pytest.approx(0.4125)
    assert row["actual_delay_rate"] == 0.5
    assert row["model_version"] == "3"
    bands = {b["risk_band"]: b for b in got.bands}
    assert bands["low"]["flights_labelled"] == 1 and bands["low"]["actual_delay_rate"] == 0.0
    assert bands["medium"]["flights_labelled"] == 1  # 0.35
    assert bands["high"]["flights_labelled"] == 2  # 0.4 and 0.8
    assert bands["high"]["mean_probability"] == pytest.approx(0.6)
    assert bands["high"]["actual_delay_rate"] == 0.5


def test_realized_auc_is_null_when_every_flight_had_the_same_outcome() -> None:
    predictions = _predictions([0.1, 0.3])
    outcomes = predictions[fd.KEY].copy()
    outcomes[fd.LABEL] = [True, True]
    row = realized_performance(predictions, outcomes).row
    assert row["roc_auc"] is None
    assert row["brier"] == pytest.approx((0.81 + 0.49) / 2)


def test_a_day_scored_by_a_model_trained_on_it_is_flagged_in_sample() -> None:
    predictions = _predictions([0.2, 0.7])
    outcomes = predictions[fd.KEY].copy()
    outcomes[fd.LABEL] = [False, True]
    predictions["model_trained_as_of"] = date(2013, 3, 1)  # trained on data through 02-28
    assert realized_performance(predictions, outcomes).row["in_sample"] is False
    predictions["model_trained_as_of"] = date(2013, 4, 1)  # its training data covered DAY
    assert realized_performance(predictions, outcomes).row["in_sample"] is True


def test_a_feature_that_goes_missing_today_alerts_at_once() -> None:
    limits = replace(Settings().thresholds(), max_missing_increase=0.2)
    broken = {
        "feature": "plane_seats",
        "psi": 0.05,  # the 28-day window has barely moved
        "reference_missing_share": 0.02,
        "day_missing_share": 0.95,
    }
    [message] = alerts(DAY, None, [broken], limits)
    assert "plane_seats is missing for 95% of flights (training: 2%)" in message
    assert alerts(DAY, None, [{**broken, "day_missing_share": 0.1}], limits) == []


def test_alerts_name_each_crossed_threshold() -> None:
    limits = replace(
        Settings().thresholds(),
        min_roc_auc=0.6,
        max_brier=0.2,
        max_psi=0.25,
        min_labelled_flights=100,
    )
    healthy = {"flights_labelled": 800, "roc_auc": 0.68, "brier": 0.15, "model_version": "3"}
    assert alerts(DAY, healthy, [{"feature": "x", "psi": 0.1}], limits) == []
    bad = {**healthy, "roc_auc": 0.55, "brier": 0.22}
    found = alerts(DAY, bad, [{"feature": "wx_precip_in", "psi": 0.9}], limits)
    assert len(found) == 3
    assert "realized ROC-AUC 0.550 below 0.6" in found[0]
    assert "Brier score 0.220 above 0.2" in found[1]
    assert "wx_precip_in drifted, PSI 0.900" in found[2]
    # Too few labelled flights (a storm cancelled most): no performance alert, drift still counts.
    few = {**bad, "flights_labelled": 50}
    assert alerts(DAY, few, [], limits) == []
