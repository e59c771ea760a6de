"""Realized performance, overall and by slice, with known answers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

import models.flight_delay as fd
from pipelines.monitoring.performance import performance_by_slice, realized_performance

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


def test_performance_by_slice_known_answer() -> None:
    predictions = _predictions([0.2, 0.7, 0.1, 0.9])
    predictions["origin"] = ["JFK", "JFK", "EWR", "EWR"]
    outcomes = predictions[fd.KEY].copy()
    outcomes[fd.LABEL] = [False, True, True, None]  # the last flight was cancelled
    outcomes["sched_dep_hour"] = [6, 6, 18, 18]
    rows = {(r["slice"], r["value"]): r for r in performance_by_slice(predictions, outcomes)}
    jfk = rows[("origin", "JFK")]
    assert jfk["flights_labelled"] == 2 and jfk["roc_auc"] == 1.0
    assert jfk["brier"] == pytest.approx((0.04 + 0.09) / 2)
    ewr = rows[("origin", "EWR")]
    assert ewr["flights_labelled"] == 1 and ewr["roc_auc"] is None  # one outcome only
    assert ewr["actual_delay_rate"] == 1.0 and ewr["brier"] == pytest.approx(0.81)
    assert rows[("hour", "6")]["flights_labelled"] == 2
    assert {v for s, v in rows if s == "risk_band"} == {"low", "medium", "high"}
    assert rows[("carrier", "AA")]["flights_labelled"] == 3
