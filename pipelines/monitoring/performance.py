"""Realized performance of a day's predictions: overall, by risk band, and by slice.

Pure functions of frames, so every number has a unit test with a known answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.flight_delay import schema as fd
from pipelines.evaluation import EvaluationError, binary_metrics

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


# The slices analysts and the report break realized performance down by: (name, column).
SLICES = (
    ("origin", "origin"),
    ("carrier", "carrier"),
    ("hour", "sched_dep_hour"),
    ("risk_band", "risk_band"),
)


def performance_by_slice(predictions: pd.DataFrame, outcomes: pd.DataFrame) -> list[dict[str, Any]]:
    """Realized performance of the day per origin, carrier, scheduled hour and risk band.

    Counts, mean probability against actual delay rate, and the Brier score per slice; ROC-AUC
    where the slice has both outcomes. Labelled flights only (cancelled and diverted have none).
    """
    key = fd.KEY
    context = outcomes[[*key, fd.LABEL, "sched_dep_hour"]]
    joined = predictions.merge(context, on=key, how="left")
    labelled = joined[joined[fd.LABEL].notna()].copy()
    labelled["y"] = labelled[fd.LABEL].astype("int8")
    rows = []
    for name, column in SLICES:
        for value, part in labelled.groupby(column, sort=True):
            y, p = part["y"].to_numpy(), part["probability"].astype("float64").to_numpy()
            auc = None
            if 0 < y.sum() < len(y):
                auc = binary_metrics(y, p).roc_auc
            rows.append(
                {
                    "slice": name,
                    "value": str(int(value) if isinstance(value, float) else value),
                    "flights_labelled": len(part),
                    "mean_probability": float(p.mean()),
                    "actual_delay_rate": float(y.mean()),
                    "brier": float(np.mean((p - y) ** 2)),
                    "roc_auc": auc,
                }
            )
    return rows
