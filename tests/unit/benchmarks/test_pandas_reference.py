"""The pandas reference computes what sql/features/flight_features.sql computes, value for value."""

from __future__ import annotations

from datetime import timedelta

from benchmarks.pandas_reference import flight_features, mismatches, read_inputs
from pipelines import tables
from pipelines.dates import Interval
from pipelines.features.build import build_flight_features
from pipelines.settings import REPO_ROOT
from pipelines.storage import lake
from tests.fixtures.scaled_day import DAY, HISTORY_DAYS, ScaledDay


def test_pandas_features_equal_the_feature_stage_s(scaled_day: ScaledDay) -> None:
    history_start = DAY - timedelta(days=HISTORY_DAYS)
    build_flight_features(scaled_day.lake, REPO_ROOT / "sql", Interval.day(DAY), "t", history_start)
    built = lake.read_partition(scaled_day.lake, *tables.FLIGHT_FEATURES.address, DAY).to_pandas()
    inputs = read_inputs(scaled_day.landing, scaled_day.lake, DAY, feeds=False)
    reference = flight_features(DAY, *inputs)

    found = mismatches(reference, built)
    assert found["columns"] == {}
    assert (found["only_reference"], found["only_pipeline"]) == (0, 0)
    # Every column but the keys was compared, the labels included.
    assert found["columns_compared"] == len(reference.columns) - 3
    assert set(reference.columns) == set(built.columns) - {
        "history_missing_days",
        "pipeline_run_id",
    }
    assert reference["label_is_delayed"].notna().sum() > 0

    changed = reference.copy()
    changed.loc[0, "route_delay_rate_28d"] += 1e-6
    assert mismatches(changed, built)["columns"] == {"route_delay_rate_28d": 1}
