"""The flight_delay model definition: features exist in the SQL, it fits, it reloads safely."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from models.flight_delay import (
    CATEGORICAL,
    FEATURES,
    LABEL,
    NUMERIC,
    SKOPS_TRUSTED_TYPES,
    build_pipeline,
    default_params,
    feature_frame,
    risk_band,
    risk_bands,
)


def synthetic_features(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(size=n) for c in NUMERIC})
    frame["carrier"] = rng.choice(["AA", "B6", "UA"], size=n)
    frame["origin"] = rng.choice(["EWR", "JFK", "LGA"], size=n)
    frame["dest"] = rng.choice(["BOS", "MIA", None], size=n)
    frame.loc[::7, "wx_temp_f"] = np.nan
    frame["plane_age_years"] = pd.array(rng.integers(0, 30, size=n), dtype="Int64")
    frame.loc[::5, "plane_age_years"] = pd.NA
    signal = frame["route_delay_rate_28d"] + (frame["carrier"] == "B6")
    frame[LABEL] = (signal + rng.normal(scale=0.5, size=n)) > 0.5
    return frame


def test_every_feature_is_a_column_of_the_feature_sql(sql_root):
    # Columns the feature SQL names, or passes through from the schedule staging view.
    sql = (sql_root / "features" / "flight_features.sql").read_text()
    sql += (sql_root / "staging" / "stg_flight_labelled_schedule.sql").read_text()
    produced = set(re.findall(r"\bas (\w+)", sql)) | {"carrier", "origin", "dest"}
    assert set(FEATURES) <= produced, set(FEATURES) - produced
    assert not any(f.startswith("label_") for f in FEATURES)  # the label never feeds the model


def test_reviewed_params_are_accepted_by_the_estimator():
    booster = build_pipeline().named_steps["model"]
    assert {k: booster.get_params()[k] for k in default_params()} == default_params()


def test_fits_with_missing_values_and_returns_probabilities():
    frame = synthetic_features()
    model = build_pipeline({"max_iter": 20}).fit(feature_frame(frame), frame[LABEL])
    proba = model.predict_proba(feature_frame(frame))[:, 1]
    assert proba.shape == (len(frame),)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_same_data_and_params_give_the_same_model():
    frame = synthetic_features()
    first = build_pipeline({"max_iter": 20, "max_features": 0.5}).fit(
        feature_frame(frame), frame[LABEL]
    )
    second = build_pipeline({"max_iter": 20, "max_features": 0.5}).fit(
        feature_frame(frame), frame[LABEL]
    )
    X = feature_frame(frame)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_skops_round_trip_needs_only_the_reviewed_types(tmp_path):
    frame = synthetic_features()
    model = build_pipeline({"max_iter": 10}).fit(feature_frame(frame), frame[LABEL])
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(SKOPS_TRUSTED_TYPES)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)
    X = feature_frame(frame)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_unknown_categories_at_scoring_time_do_not_fail():
    frame = synthetic_features()
    model = build_pipeline({"max_iter": 10}).fit(feature_frame(frame), frame[LABEL])
    unseen = frame.head(3).assign(carrier="ZZ", dest="NEW")
    assert model.predict_proba(feature_frame(unseen)).shape == (3, 2)


def test_missing_feature_columns_are_named():
    with pytest.raises(KeyError, match="wx_temp_f"):
        feature_frame(synthetic_features().drop(columns=["wx_temp_f"]))


def test_categoricals_come_first_for_the_booster():
    assert FEATURES[: len(CATEGORICAL)] == CATEGORICAL


def test_risk_bands_of_many_probabilities_are_those_of_each_one() -> None:
    probabilities = np.array([-0.1, 0.0, 0.1999, 0.2, 0.3999, 0.4, 0.95, 1.0, np.nan])
    assert risk_bands(probabilities).tolist() == [risk_band(p) for p in probabilities]
    assert risk_bands(probabilities).tolist()[1:6] == ["low", "low", "medium", "medium", "high"]
