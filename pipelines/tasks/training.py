"""Task adapters of the ``flight_delay_training`` DAG: wait for features -> train -> promote."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from pipelines.dates import Interval
from pipelines.errors import InvalidRunParams
from pipelines.settings import get_settings
from pipelines.tasks.common import announces, fails_fast, features_built, param_date
from pipelines.training import promotion
from pipelines.training.config import TrainingConfig
from pipelines.training.train import train_challenger


def _as_of_from_events(context: Mapping[str, Any]) -> str | None:
    """The latest ``as_of`` in the extras of the asset events that triggered this run, if any."""
    events = context.get("triggering_asset_events") or {}
    extras = [getattr(e, "extra", None) or {} for queue in events.values() for e in queue]
    found: list[str] = [str(x["as_of"]) for x in extras if x.get("as_of")]
    return max(found) if found else None


def training_as_of(context: Mapping[str, Any]) -> date:
    """The day training data ends before (exclusive): the ``as_of`` param, else the ``as_of`` of
    the model alert that triggered the run, else the interval end."""
    params = context.get("params") or {}
    value = params.get("as_of") or _as_of_from_events(context) or context.get("data_interval_end")
    if value is None:
        raise InvalidRunParams(
            "this run has no data interval: trigger it with a logical date or set param 'as_of' "
            "(YYYY-MM-DD, the day after the last training day)"
        )
    return param_date("as_of", value)


def features_ready(context: Mapping[str, Any]) -> bool:
    """Sensor: are the features of the window's last day (``as_of`` - 1) built?"""
    return features_built(training_as_of(context) - timedelta(days=1))


@announces
@fails_fast
def train(context: Mapping[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    config = TrainingConfig.from_params(context.get("params") or {})
    result = train_challenger(
        settings.lake_root,
        settings.mlflow_tracking_uri,
        settings.mlflow_artifact_root,
        training_as_of(context),
        config,
        str(context["run_id"]),
    )
    return result.summary()


@announces
@fails_fast
def evaluate_and_promote(context: Mapping[str, Any], trained: Mapping[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    config = TrainingConfig.from_params(context.get("params") or {})
    result = promotion.evaluate_and_promote(
        settings.lake_root,
        settings.mlflow_tracking_uri,
        str(trained["version"]),
        Interval.of(*trained["holdout"]),
        trained["as_of"],
        config.promotion_margin,
        str(context["run_id"]),
    )
    return result.summary()
