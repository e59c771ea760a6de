"""Findings: known answers for each kind of feature, a broken feed caught on its first day, and
an unchanged period that stays quiet."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

import models.flight_delay as fd
from pipelines.drift import feature_profile
from pipelines.monitoring.findings import (
    CRITICAL,
    DRIFT,
    FIX_FEED,
    MISSING_FEATURE,
    PERFORMANCE,
    RETRAIN,
    VOLUME,
    WARNING,
    feature_checks,
    performance_findings,
    volume_findings,
)
from pipelines.monitoring.watchlist import WATCHLIST, Measure
from pipelines.settings import Settings
from tests.fixtures.synthetic_features import day_frame

START = date(2013, 1, 1)
TRAINING_DAYS = [START + timedelta(days=i) for i in range(21)]
LATER = [START + timedelta(days=28 + i) for i in range(10)]
LIMITS = Settings().thresholds()


@pytest.fixture(scope="module")
def profile() -> dict:
    return feature_profile(
        pd.concat([day_frame(d, 300, seed=3) for d in TRAINING_DAYS]), fd.NUMERIC, fd.CATEGORICAL
    )


def _check(profile: dict, today: pd.DataFrame, yesterday: pd.DataFrame | None = None):
    day = today["flight_date"].iloc[0]
    return feature_checks(day, profile, today, yesterday, LIMITS)


def test_every_model_feature_has_a_written_drift_decision() -> None:
    assert set(WATCHLIST) == set(fd.FEATURES)
    assert all(w.reason and w.feed for w in WATCHLIST.values())
    # Day-level context is never judged by the PSI of one day's flights.
    assert WATCHLIST["all_flights_delay_rate_28d"].measure is Measure.NOT_MEASURED
    assert WATCHLIST["wx_temp_f"].measure is Measure.DAILY


def test_an_unchanged_period_finds_nothing(profile: dict) -> None:
    frames = [day_frame(d, 300, seed=3) for d in [LATER[0] - timedelta(days=1), *LATER]]
    found = [f for before, today in pairwise(frames) for f in _check(profile, today, before)[1]]
    assert found == []


def test_a_temperature_feed_switched_to_celsius_is_a_broken_feed_on_its_first_day(
    profile: dict,
) -> None:
    yesterday, today = (day_frame(d, 300, seed=3) for d in LATER[:2])
    today["wx_temp_f"] = (today["wx_temp_f"] * 10 + 40 - 32) * 5 / 9
    yesterday["wx_temp_f"] = yesterday["wx_temp_f"] * 10 + 40
    trained = feature_profile(
        pd.concat(
            [
                f.assign(wx_temp_f=f["wx_temp_f"] * 10 + 40)
                for f in (day_frame(d, 300, 3) for d in TRAINING_DAYS)
            ]
        ),
        fd.NUMERIC,
        fd.CATEGORICAL,
    )
    rows, found = _check(trained, today, yesterday)
    [hit] = [f for f in found if f.item == "wx_temp_f"]
    assert (hit.kind, hit.subject, hit.severity, hit.remedy) == (
        DRIFT,
        "weather",
        CRITICAL,
        FIX_FEED,
    )
    assert "stepped" in hit.message and str(LATER[1]) in hit.message
    row = next(r for r in rows if r["feature"] == "wx_temp_f")
    assert row["measure"] == "daily" and row["finding"]


def test_a_feature_gone_missing_is_critical_on_its_first_day(profile: dict) -> None:
    today = day_frame(LATER[0], 300, seed=3)
    today["plane_seats"] = np.nan
    _, found = _check(profile, today)
    [hit] = found
    assert (hit.kind, hit.subject, hit.item, hit.severity) == (
        MISSING_FEATURE,
        "aircraft",
        "plane_seats",
        CRITICAL,
    )
    assert hit.value == 1.0 and hit.remedy == FIX_FEED


def test_a_feature_stuck_at_one_value_is_a_broken_feed(profile: dict) -> None:
    today = day_frame(LATER[0], 300, seed=3)
    today["distance_miles"] = 1000.0
    [hit] = [f for f in _check(profile, today)[1] if f.item == "distance_miles"]
    assert hit.severity == CRITICAL and "same value" in hit.message


def test_a_flight_level_feature_that_shifts_is_drift_that_asks_for_retraining(
    profile: dict,
) -> None:
    today = day_frame(LATER[0], 300, seed=3)
    today.loc[:149, "carrier"] = "ZZ"  # half the flights by an airline the model never saw
    [hit] = _check(profile, today)[1]
    assert (hit.kind, hit.item, hit.severity, hit.remedy) == (DRIFT, "carrier", WARNING, RETRAIN)
    assert hit.value > LIMITS.max_psi


def test_a_day_level_feature_is_judged_by_its_daily_mean_not_by_psi(profile: dict) -> None:
    today = day_frame(LATER[0], 300, seed=3)
    # Every flight of an hour shares its weather: one value per hour, as in the real feed.
    today["wx_pressure_mb"] = today["sched_dep_hour"].map(lambda h: 0.01 * (h - 14))
    rows, found = _check(profile, today)
    row = next(r for r in rows if r["feature"] == "wx_pressure_mb")
    assert row["psi"] > LIMITS.max_psi  # a day of hourly values is far from training's flights
    assert not [f for f in found if f.item == "wx_pressure_mb"]  # but its mean is usual


def test_performance_findings_known_answer() -> None:
    day = LATER[0]
    base = {"flights_labelled": 900, "model_version": "3", "roc_auc": 0.7, "brier": 0.15}
    assert performance_findings(day, base, LIMITS) == []
    low = performance_findings(day, {**base, "roc_auc": 0.55, "brier": 0.32}, LIMITS)
    assert [(f.kind, f.item, f.severity) for f in low] == [
        (PERFORMANCE, "roc_auc", WARNING),
        (PERFORMANCE, "brier", WARNING),
    ]
    assert {f.subject for f in low} == {"realized performance"}  # one incident, two metrics
    assert performance_findings(day, {**base, "roc_auc": 0.45}, LIMITS)[0].severity == CRITICAL
    # Too few labelled flights to judge: no finding.
    assert performance_findings(day, {**base, "flights_labelled": 50, "roc_auc": 0.4}, LIMITS) == []


def test_volume_findings_only_when_scoring_was_expected() -> None:
    day = LATER[0]
    assert volume_findings(day, None, 900, scored_before=False, thresholds=LIMITS) == []
    [none] = volume_findings(day, None, 900, scored_before=True, thresholds=LIMITS)
    assert (none.kind, none.severity) == (VOLUME, CRITICAL)
    [few] = volume_findings(day, 450, 900, scored_before=True, thresholds=LIMITS)
    assert few.severity == WARNING and "450 of 900" in few.message
    assert volume_findings(day, 880, 900, scored_before=True, thresholds=LIMITS) == []


def test_a_categorical_feed_stuck_at_one_value_is_broken_not_drift(profile: dict) -> None:
    today = day_frame(LATER[0], 300, seed=3)
    today["carrier"] = "ZZ"
    [hit] = [f for f in _check(profile, today)[1] if f.item == "carrier"]
    assert (hit.severity, hit.remedy) == (CRITICAL, FIX_FEED) and "same value (ZZ)" in hit.message


def test_a_column_gone_from_the_features_is_a_missing_feature(profile: dict) -> None:
    today = day_frame(LATER[0], 300, seed=3).drop(columns=["wx_temp_f"])
    [hit] = _check(profile, today)[1]
    assert (hit.kind, hit.item, hit.severity) == (MISSING_FEATURE, "wx_temp_f", CRITICAL)


def test_a_day_without_flights_is_a_broken_feed_and_judges_no_drift(profile: dict) -> None:
    [hit] = volume_findings(LATER[0], None, 0, scored_before=True, thresholds=LIMITS)
    assert (hit.kind, hit.severity, hit.remedy) == (VOLUME, CRITICAL, FIX_FEED)


def test_a_profile_without_daily_references_says_what_it_cannot_check() -> None:
    old = feature_profile(
        pd.concat([day_frame(d, 300, seed=3) for d in TRAINING_DAYS]), fd.NUMERIC, fd.CATEGORICAL
    )
    for spec in old.values():
        spec.pop("daily", None)
    rows, found = _check(old, day_frame(LATER[0], 300, seed=3))
    row = next(r for r in rows if r["feature"] == "wx_temp_f")
    assert "no daily reference" in row["note"] and found == []
