"""Drift between a reference profile and current data: the training side and the monitoring side.

Training logs :func:`feature_profile` of its fit slice with the model (the drift reference);
monitoring compares current features with it by the population stability index (:func:`psi`).
Both stages use this module, so neither imports the other.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

import models.flight_delay as fd

PROFILE_ARTIFACT = "reference/feature_profile.json"
QUANTILES = [i / 10 for i in range(1, 10)]
TOP_CATEGORIES = 30
MISSING, OTHER = "__missing__", "__other__"
EPSILON = 1e-4  # share given to an empty bin, so PSI stays finite


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
