"""Monitoring: how good were the predictions for a day, and do its inputs still look like training?

Once day D's actuals are published (the run for D), two questions get a partition each:

* ``monitoring.model_performance_daily`` (one row) and ``monitoring.calibration_by_band_daily``
  (one row per risk band): the predictions made for D the evening before, joined with D's
  outcomes. ROC-AUC, PR-AUC, Brier score, log loss, predicted against actual delay rate.
* ``monitoring.feature_drift_daily`` (one row per feature): the population stability index (PSI)
  of the features of the trailing ``DRIFT_WINDOW_DAYS`` days ending on D against the reference
  profile logged with the model's training run. A window, not the day alone: many features are
  day-level context (weekday, yesterday's delay rate at the origin, the weather), constant across a
  day's flights, so one day is a single point against a distribution and its PSI means nothing.

Thresholds come from settings; :func:`alerts` turns crossings into messages. Pure functions of
frames plus thin lake/MLflow readers, so every number has a unit test with a known answer.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import models.flight_delay as fd
from pipelines import lake
from pipelines.evaluation import EvaluationError, binary_metrics

log = logging.getLogger(__name__)

PERFORMANCE = ("monitoring", "model_performance_daily")
CALIBRATION = ("monitoring", "calibration_by_band_daily")
DRIFT = ("monitoring", "feature_drift_daily")
PROFILE_ARTIFACT = "reference/feature_profile.json"
QUANTILES = [i / 10 for i in range(1, 10)]
TOP_CATEGORIES = 30
MISSING, OTHER = "__missing__", "__other__"
EPSILON = 1e-4  # share given to an empty bin, so PSI stays finite
DRIFT_WINDOW_DAYS = 28  # as long as the longest trailing feature window


# --- Reference profile and PSI ------------------------------------------------------------------


def feature_profile(frame: pd.DataFrame) -> dict[str, Any]:
    """Bins and shares of every model feature in ``frame`` (the training slice).

    Numeric: decile edges of the non-missing values (deduplicated), the share per bin and the
    missing share. Categorical: the share of the most frequent categories, the rest, and missing.
    """
    profile: dict[str, Any] = {}
    for name in fd.NUMERIC:
        values = frame[name].astype("float64")
        present = values.dropna()
        edges = sorted(set(np.quantile(present, QUANTILES).round(9))) if len(present) else []
        profile[name] = {
            "kind": "numeric",
            "edges": [float(e) for e in edges],
            "shares": _numeric_shares(values, edges),
        }
    for name in fd.CATEGORICAL:
        counts = frame[name].astype("object").where(frame[name].notna(), MISSING).value_counts()
        top = [c for c in counts.index if c != MISSING][:TOP_CATEGORIES]
        profile[name] = {
            "kind": "categorical",
            "categories": [str(c) for c in top],
            "shares": _categorical_shares(frame[name], top),
        }
    return profile


def _numeric_shares(values: pd.Series, edges: list[float]) -> list[float]:
    """Shares of bins (-inf, e1], (e1, e2], ..., (ek, inf), then missing."""
    values = values.astype("float64")
    n = len(values)
    if n == 0:
        return [0.0] * (len(edges) + 2)
    present = values.dropna().to_numpy()
    index = np.searchsorted(np.asarray(edges, dtype="float64"), present, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).tolist()
    return [c / n for c in counts] + [(n - len(present)) / n]


def _categorical_shares(values: pd.Series, categories: list[str]) -> list[float]:
    """Shares of each category, then all others, then missing."""
    n = len(values)
    if n == 0:
        return [0.0] * (len(categories) + 2)
    as_text = values.astype("object")
    missing = int(as_text.isna().sum())
    counts = as_text.dropna().astype(str).value_counts()
    known = [int(counts.get(c, 0)) for c in categories]
    other = n - missing - sum(known)
    return [k / n for k in known] + [other / n, missing / n]


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index: sum over bins of (a - e) * ln(a / e)."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} reference bins against {len(actual)} current bins")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def drift_rows(profile: dict[str, Any], frame: pd.DataFrame) -> list[dict[str, Any]]:
    """PSI of every profiled feature of ``frame`` against ``profile``, largest first."""
    rows = []
    for name, ref in profile.items():
        if name not in frame.columns:
            continue
        if ref["kind"] == "numeric":
            current = _numeric_shares(frame[name], ref["edges"])
        else:
            current = _categorical_shares(frame[name], ref["categories"])
        rows.append(
            {
                "feature": name,
                "psi": round(psi(ref["shares"], current), 6),
                "reference_missing_share": round(ref["shares"][-1], 6),
                "current_missing_share": round(current[-1], 6),
            }
        )
    return sorted(rows, key=lambda r: -r["psi"])


# --- Realized performance ------------------------------------------------------------------------


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


# --- Thresholds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    min_roc_auc: float = 0.60
    max_brier: float = 0.20
    max_psi: float = 0.25
    max_missing_increase: float = 0.2
    min_labelled_flights: int = 200


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


# --- Lake readers and writers -------------------------------------------------------------------


def read_table(lake_root: Path, layer: str, table: str, day: date) -> pd.DataFrame | None:
    if not lake.has_partition(lake_root, layer, table, day):
        return None
    return lake.read_partition(lake_root, layer, table, day).to_pandas()


SCHEMAS = {
    PERFORMANCE: pa.schema(
        [
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("flights_scored", pa.int64()),
            ("flights_labelled", pa.int64()),
            ("roc_auc", pa.float64()),
            ("pr_auc", pa.float64()),
            ("brier", pa.float64()),
            ("log_loss", pa.float64()),
            ("predicted_delay_rate", pa.float64()),
            ("actual_delay_rate", pa.float64()),
            ("in_sample", pa.bool_()),
        ]
    ),
    CALIBRATION: pa.schema(
        [
            ("model_version", pa.string()),
            ("risk_band", pa.string()),
            ("flights_labelled", pa.int64()),
            ("mean_probability", pa.float64()),
            ("actual_delay_rate", pa.float64()),
        ]
    ),
    DRIFT: pa.schema(
        [
            ("model_version", pa.string()),
            ("feature", pa.string()),
            ("psi", pa.float64()),
            ("reference_missing_share", pa.float64()),
            ("current_missing_share", pa.float64()),
            ("day_psi", pa.float64()),
            ("day_missing_share", pa.float64()),
            ("drifted", pa.bool_()),
        ]
    ),
}


def write_rows(
    lake_root: Path, where: tuple[str, str], day: date, rows: list[dict], run_id: str
) -> int:
    """Replace the day's partition of a monitoring table with ``rows`` (typed, even when empty)."""
    table = pa.Table.from_pylist(rows, schema=SCHEMAS[where])
    return lake.write_partition(lake_root, *where, day, table, run_id).rows


# --- The monitoring stage -------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitorSummary:
    day: str
    performance: dict[str, Any] | None
    drift_top: list[dict[str, Any]]
    alerts: list[str]
    model_version: str | None


def _reference_profile(tracking_uri: str, version: str) -> dict[str, Any] | None:
    import mlflow.artifacts

    from pipelines import registry

    client = registry.client(tracking_uri)
    run_id = client.get_model_version(fd.MODEL_NAME, version).run_id
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    except Exception as exc:  # an older version logged without a profile: no drift, say why
        log.warning("model v%s has no %s (%s): drift not computed", version, PROFILE_ARTIFACT, exc)
        return None


def monitor_day(
    lake_root: Path, tracking_uri: str, day: date, run_id: str, thresholds: Thresholds
) -> MonitorSummary:
    """Realized performance of the predictions for ``day`` and drift of its features.

    Needs ``features.flight_features`` of ``day`` (its outcomes). Days that were never scored get
    empty partitions (monitored, nothing to measure) and a log line saying so.
    """
    from pipelines import registry
    from pipelines.features import MissingUpstreamPartition

    outcomes = read_table(lake_root, "features", "flight_features", day)
    if outcomes is None:
        raise MissingUpstreamPartition(
            f"features.flight_features has no partition for {day}: monitoring needs the day's "
            "outcomes (flights_daily builds them)"
        )
    window = [outcomes] + [
        read_table(lake_root, "features", "flight_features", day - timedelta(days=back))
        for back in range(1, DRIFT_WINDOW_DAYS)
    ]
    recent = pd.concat([w for w in window if w is not None], ignore_index=True)
    predictions = read_table(lake_root, "scores", "flight_delay_predictions", day)
    performance, bands, version = None, [], None
    if predictions is None or predictions.empty:
        log.warning("no predictions were made for %s: nothing to measure", day)
    else:
        measured = realized_performance(predictions, outcomes)
        performance = measured.row
        version = max(performance["model_version"].split(","), key=int)
        bands = [{"model_version": performance["model_version"], **b} for b in measured.bands]
    if version is None:
        champion = registry.get_champion(registry.client(tracking_uri), fd.MODEL_NAME)
        version = None if champion is None else str(champion.version)
    profile = None if version is None else _reference_profile(tracking_uri, version)
    drift = [] if profile is None else drift_rows(profile, recent)
    today = {} if profile is None else {r["feature"]: r for r in drift_rows(profile, outcomes)}
    for r in drift:
        own = today[r["feature"]]
        # The window smooths day-level context; the day's own numbers catch a feed that broke today.
        r.update(
            model_version=version,
            day_psi=own["psi"],
            day_missing_share=own["current_missing_share"],
            drifted=r["psi"] > thresholds.max_psi
            or own["current_missing_share"] - r["reference_missing_share"]
            > thresholds.max_missing_increase,
        )
    found = alerts(day, performance, drift, thresholds)
    write_rows(lake_root, PERFORMANCE, day, [performance] if performance else [], run_id)
    write_rows(lake_root, CALIBRATION, day, bands, run_id)
    write_rows(lake_root, DRIFT, day, drift, run_id)
    for message in found:
        log.warning("MONITORING ALERT %s", message)
    return MonitorSummary(day.isoformat(), performance, drift[:5], found, version)
