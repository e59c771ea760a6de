"""Realized performance of a day's predictions, and the thresholds that turn numbers into alerts.

Pure functions of frames, so every number has a unit test with a known answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

import models.flight_delay as fd
from pipelines.evaluation import EvaluationError, binary_metrics
from pipelines.settings import Thresholds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Performance:
    row: dict[str, Any]
    bands: list[dict[str, Any]]


def realized_performance(predictions: pd.DataFrame, outcomes: pd.DataFrame) -> Performance:
    """Predictions for a day joined with its outcomes (``label_is_delayed``) on the flight key.

    Flights without an outcome (cancelled, diverted) count as scored but not labelled. ROC-AUC and
    PR-AUC are null when every labelled flight had the same outcome.
    """
    key = fd.KEY
    joined = predictions.merge(outcomes[[*key, fd.LABEL]], on=key, how="left")
    labelled = joined[joined[fd.LABEL].notna()]
    y = labelled[fd.LABEL].astype("int8").to_numpy()
    p = labelled["probability"].astype("float64").to_numpy()
    versions = sorted(set(predictions["model_version"].astype(str)), key=int)
    trained = predictions.get("model_trained_as_of")
    trained_as_of = None if trained is None or trained.isna().all() else max(trained.dropna())
    row: dict[str, Any] = {
        "model_name": fd.MODEL_NAME,
        "model_version": ",".join(versions),
        "flights_scored": len(predictions),
        "flights_labelled": len(labelled),
        "roc_auc": None,
        "pr_auc": None,
        "brier": None,
        "log_loss": None,
        "predicted_delay_rate": float(p.mean()) if len(p) else None,
        "actual_delay_rate": float(y.mean()) if len(y) else None,
        # Scored by a model whose training data covered the day: optimistic, not a real forecast.
        "in_sample": bool(
            trained_as_of is not None and (predictions["flight_date"] < trained_as_of).any()
        ),
    }
    if len(y):
        try:
            m = binary_metrics(y, p)
            row.update(roc_auc=m.roc_auc, pr_auc=m.pr_auc, brier=m.brier, log_loss=m.log_loss)
        except EvaluationError as exc:  # one outcome class only: ranking metrics are undefined
            log.warning("realized ROC-AUC undefined: %s", exc)
            row["brier"] = float(np.mean((p - y) ** 2))
    bands = []
    for _, band in fd.RISK_BANDS:
        part = labelled[labelled["risk_band"] == band]
        bands.append(
            {
                "risk_band": band,
                "flights_labelled": len(part),
                "mean_probability": float(part["probability"].mean()) if len(part) else None,
                "actual_delay_rate": float(part[fd.LABEL].astype("int8").mean())
                if len(part)
                else None,
            }
        )
    return Performance(row, bands)


def alerts(
    day: date,
    performance: dict[str, Any] | None,
    drift: list[dict[str, Any]],
    thresholds: Thresholds,
) -> list[str]:
    """A message per crossed threshold (empty: all well)."""
    found = []
    if performance and performance["flights_labelled"] >= thresholds.min_labelled_flights:
        auc, brier = performance["roc_auc"], performance["brier"]
        if auc is not None and auc < thresholds.min_roc_auc:
            n, version = performance["flights_labelled"], performance["model_version"]
            found.append(
                f"{day}: realized ROC-AUC {auc:.3f} below {thresholds.min_roc_auc} "
                f"({n} flights, model v{version})"
            )
        if brier is not None and brier > thresholds.max_brier:
            found.append(f"{day}: realized Brier score {brier:.3f} above {thresholds.max_brier}")
    for r in drift:
        if r["psi"] > thresholds.max_psi:
            found.append(
                f"{day}: feature {r['feature']} drifted, PSI {r['psi']:.3f} > {thresholds.max_psi}"
            )
        missing = r.get("day_missing_share")
        if missing is not None and missing - r["reference_missing_share"] > (
            thresholds.max_missing_increase
        ):
            found.append(
                f"{day}: feature {r['feature']} is missing for {missing:.0%} of flights "
                f"(training: {r['reference_missing_share']:.0%})"
            )
    return found
