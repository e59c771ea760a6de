"""Drift between a reference profile and current data: the training side and the monitoring side.

Training logs :func:`feature_profile` of its fit slice with the model (the drift reference);
monitoring compares current features with it. Two references per numeric feature, because features
are of two kinds: the distribution over flights (bins and shares, compared by the population
stability index, :func:`psi`), and the series of daily means (``daily``), for features whose value
is shared by every flight of a day or an hour (the weather, the day's traffic), where one day is a
single point and only a reference of days can say whether it is unusual. Both stages use this
module, so neither imports the other.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

PROFILE_ARTIFACT = "reference/feature_profile.json"
QUANTILES = [i / 10 for i in range(1, 10)]
DAY_COLUMN = "flight_date"
TOP_CATEGORIES = 30
MISSING, OTHER = "__missing__", "__other__"
EPSILON = 1e-4  # share given to an empty bin, so PSI stays finite


def feature_profile(
    frame: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> dict[str, Any]:
    """Bins and shares of the model's ``numeric`` and ``categorical`` features in ``frame`` (the
    training slice).

    Numeric: decile edges of the non-missing values (deduplicated), the share per bin and the
    missing share, and (given ``flight_date``) the daily reference of :func:`daily_reference`.
    Categorical: the share of the most frequent categories, the rest, and missing.
    """
    profile: dict[str, Any] = {}
    for name in numeric:
        values = frame[name].astype("float64")
        present = values.dropna()
        edges = sorted(set(np.quantile(present, QUANTILES).round(9))) if len(present) else []
        profile[name] = {
            "kind": "numeric",
            "edges": [float(e) for e in edges],
            "shares": _numeric_shares(values, edges),
        }
        if DAY_COLUMN in frame.columns:
            profile[name]["daily"] = daily_reference(frame[DAY_COLUMN], values)
    for name in categorical:
        counts = frame[name].astype("object").where(frame[name].notna(), MISSING).value_counts()
        top = [c for c in counts.index if c != MISSING][:TOP_CATEGORIES]
        profile[name] = {
            "kind": "categorical",
            "categories": [str(c) for c in top],
            "shares": _categorical_shares(frame[name], top),
        }
    return profile


def daily_reference(days: pd.Series, values: pd.Series) -> dict[str, Any]:
    """The feature day by day: each day's mean (in day order, null for a day without a value), the
    smallest within-day spread of any day (0 when the feature is one value per day) and the
    largest missing share of any day."""
    by_day = pd.DataFrame({"day": days.to_numpy(), "value": values.to_numpy("float64")}).groupby(
        "day", sort=True
    )["value"]
    means = by_day.mean()
    spread = by_day.std(ddof=0).dropna()
    missing = by_day.apply(lambda v: float(v.isna().mean()))
    return {
        "means": [None if math.isnan(m) else round(float(m), 6) for m in means],
        "min_spread": round(float(spread.min()), 6) if len(spread) else 0.0,
        "max_missing": round(float(missing.max()), 6) if len(missing) else None,
    }


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


def present_psi(expected: list[float], actual: list[float]) -> float:
    """PSI of the present values only: the missing share (the last bin) is left out and the rest
    renormalised, so a few more missing values than training had (judged on their own, as a
    missing share) do not read as a shifted distribution."""
    return psi(_renormalised(expected[:-1]), _renormalised(actual[:-1]))


def _renormalised(shares: list[float]) -> list[float]:
    total = sum(shares)
    return [s / total for s in shares] if total > 0 else shares


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index: sum over bins of (a - e) * ln(a / e)."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} reference bins against {len(actual)} current bins")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def shares_of(reference: dict[str, Any], values: pd.Series) -> list[float]:
    """The shares of ``values`` in the bins of one feature's ``reference`` (missing last)."""
    if reference["kind"] == "numeric":
        return _numeric_shares(values, reference["edges"])
    return _categorical_shares(values, reference["categories"])


def bin_labels(reference: dict[str, Any]) -> list[str]:
    """A label per bin of :func:`shares_of`, for charts: ``<= e1``, ``e1-e2``, ... or the
    categories, then the rest and missing."""
    if reference["kind"] != "numeric":
        return [*reference["categories"], "other", "missing"]
    edges = [f"{e:.4g}" for e in reference["edges"]]
    if not edges:
        return ["any", "missing"]
    middle = [f"{a}-{b}" for a, b in pairwise(edges)]
    return [f"<={edges[0]}", *middle, f">{edges[-1]}", "missing"]


def drift_rows(profile: dict[str, Any], frame: pd.DataFrame) -> list[dict[str, Any]]:
    """PSI of every profiled feature of ``frame`` against ``profile``, largest first."""
    rows = []
    for name, ref in profile.items():
        if name not in frame.columns:
            continue
        current = shares_of(ref, frame[name])
        rows.append(
            {
                "feature": name,
                "psi": round(psi(ref["shares"], current), 6),
                "reference_missing_share": round(ref["shares"][-1], 6),
                "current_missing_share": round(current[-1], 6),
            }
        )
    return sorted(rows, key=lambda r: -r["psi"])
