"""Scoring's own rules, without a model store: inputs it refuses, and the rows it writes.

Scoring a real lake with a registered champion is tested in tests/integration/test_scoring.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

import models.flight_delay as fd
from pipelines.errors import PermanentError
from pipelines.serving import scoring
from pipelines.serving.schema import PREDICTION_SCHEMA

DAY = date(2013, 3, 15)


@dataclass
class Version:
    """What scoring reads of an MLflow ModelVersion."""

    version: str = "3"
    run_id: str = "run-3"
    tags: dict[str, str] = field(default_factory=lambda: {"data.as_of": "2013-03-01"})


def test_nothing_is_scored_before_the_feeds_and_the_actuals_are_published(
    tmp_path: Path, sql_root: Path
) -> None:
    with (
        pytest.raises(scoring.ScoringInputMissing) as caught,
        scoring.scoring_features(tmp_path, sql_root, DAY, date(2013, 1, 1), run_id="r"),
    ):
        pass
    message = str(caught.value)
    for missing in (
        "raw.schedule dt=2013-03-15",
        "raw.weather_forecast",
        "raw.flights dt=2013-03-14",
    ):
        assert missing in message
    assert not isinstance(caught.value, PermanentError), "a late feed may still arrive: retry"


def test_an_unknown_version_policy_fails_without_retry(mlflow_store: str) -> None:
    with pytest.raises(scoring.UnknownVersionPolicy, match="current_champion"):
        scoring.resolve_model(mlflow_store, DAY, "latest")
    assert issubclass(scoring.UnknownVersionPolicy, PermanentError)


def test_each_prediction_is_stamped_with_its_model_and_banded() -> None:
    features = pa.table(
        {
            "flight_date": [DAY, DAY],
            "carrier": ["UA", "AA"],
            "flight_number": pa.array([2, 1], pa.int32()),
            "origin": ["EWR", "JFK"],
            "dest": ["ORD", "MIA"],
            "sched_dep_minute_of_day": [9 * 60 + 30, 6 * 60],
        }
    )
    table = scoring.predictions_table(features, [0.45, 0.05], Version())
    assert table.schema == PREDICTION_SCHEMA
    rows = table.to_pylist()
    # Sorted by departure: the 06:00 flight first.
    assert [r["scheduled_departure"] for r in rows] == [
        datetime(2013, 3, 15, 6, 0),
        datetime(2013, 3, 15, 9, 30),
    ]
    assert (
        [r["risk_band"] for r in rows]
        == [fd.risk_band(0.05), fd.risk_band(0.45)]
        == [
            "low",
            "high",
        ]
    )
    assert {(r["model_name"], r["model_version"], r["mlflow_run_id"]) for r in rows} == {
        ("flight_delay", "3", "run-3")
    }
    assert {r["model_trained_as_of"] for r in rows} == {date(2013, 3, 1)}
