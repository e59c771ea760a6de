"""Drift: PSI known answers, and profiles that drift (or do not) as they should."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

import models.flight_delay as fd
from pipelines.drift import drift_rows, feature_profile, psi
from tests.fixtures.synthetic_features import day_frame

DAY = date(2013, 3, 5)


def test_psi_known_answer() -> None:
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected)
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_of_an_empty_bin_stays_finite() -> None:
    value = psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2])
    assert math.isfinite(value) and value > 0.5  # a new bin with 20% of the mass is a big shift


def test_psi_refuses_mismatched_bins() -> None:
    with pytest.raises(ValueError, match="bins"):
        psi([0.5, 0.5], [1.0])


def test_the_training_slice_does_not_drift_against_its_own_profile() -> None:
    frame = day_frame(DAY, 2000, seed=1)
    profile = feature_profile(frame, fd.NUMERIC, fd.CATEGORICAL)
    assert set(profile) == set(fd.FEATURES)
    rows = drift_rows(profile, frame)
    assert len(rows) == len(fd.FEATURES)
    assert max(r["psi"] for r in rows) == pytest.approx(0.0, abs=1e-9)
    for spec in profile.values():
        assert sum(spec["shares"]) == pytest.approx(1.0)


def test_a_shifted_feature_and_a_new_category_show_up_as_drift() -> None:
    reference = day_frame(DAY, 4000, seed=1)
    today = day_frame(DAY, 4000, seed=2)
    today["wx_precip_in"] = today["wx_precip_in"] + 0.5  # every hour suddenly rainy
    today["carrier"] = "ZZ"  # an airline the model never saw
    today.loc[:1999, "plane_seats"] = np.nan  # half the planes lost their seat count
    profile = feature_profile(reference, fd.NUMERIC, fd.CATEGORICAL)
    rows = {r["feature"]: r for r in drift_rows(profile, today)}
    assert rows["wx_precip_in"]["psi"] > 1.0
    assert rows["carrier"]["psi"] > 1.0
    assert rows["plane_seats"]["current_missing_share"] == pytest.approx(0.5)
    assert rows["plane_seats"]["reference_missing_share"] == 0.0
    # Same process, other sample: no drift worth an alert.
    assert rows["route_delay_rate_28d"]["psi"] < 0.05
