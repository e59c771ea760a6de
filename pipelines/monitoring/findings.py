"""What monitoring finds wrong with one day: pure functions from numbers to findings.

A finding is one crossed threshold on one day (a metric, a feature, the volume). Findings are the
evidence; incidents (:mod:`pipelines.monitoring.incidents`) group them over days, so a breach that
lasts a week is one incident, not seven alerts. Each finding says what to do about it
(``remedy``): retraining helps a model that no longer fits the world, never a broken feed.
"""

from __future__ import annotations

import json
from datetime import date
from itertools import pairwise
from typing import Any

import pandas as pd

from pipelines.drift import bin_labels, present_psi, shares_of
from pipelines.monitoring.finding import (
    CRITICAL,
    DRIFT,
    FIX_FEED,
    INVESTIGATE,
    MISSING_FEATURE,
    PERFORMANCE,
    RETRAIN,
    VOLUME,
    WARNING,
    Finding,
)
from pipelines.monitoring.watchlist import Measure, watch_of
from pipelines.settings import Thresholds


def performance_findings(
    day: date, performance: dict[str, Any] | None, thresholds: Thresholds
) -> list[Finding]:
    """Realized ROC-AUC below its floor, Brier score above its ceiling (given enough labels)."""
    if not performance or performance["flights_labelled"] < thresholds.min_labelled_flights:
        return []
    found = []
    n, version = performance["flights_labelled"], performance["model_version"]
    auc, brier = performance["roc_auc"], performance["brier"]
    if auc is not None and auc < thresholds.min_roc_auc:
        found.append(
            Finding(
                PERFORMANCE,
                "realized performance",
                "roc_auc",
                CRITICAL if auc < 0.5 else WARNING,
                RETRAIN,
                f"{day}: realized ROC-AUC {auc:.3f} below {thresholds.min_roc_auc} "
                f"({n} flights, model v{version})",
                auc,
                thresholds.min_roc_auc,
            )
        )
    if brier is not None and brier > thresholds.max_brier:
        found.append(
            Finding(
                PERFORMANCE,
                "realized performance",
                "brier",
                WARNING,
                RETRAIN,
                f"{day}: realized Brier score {brier:.3f} above {thresholds.max_brier} "
                f"({n} flights, model v{version})",
                brier,
                thresholds.max_brier,
            )
        )
    return found


def volume_findings(
    day: date, scored: int | None, flights: int, scored_before: bool, thresholds: Thresholds
) -> list[Finding]:
    """Fewer flights scored than flew. ``scored`` None: no predictions at all, a finding only once
    scoring has begun (``scored_before``: some earlier day has predictions). A day without a
    single flight in its features is a broken feed, whatever else holds."""
    if flights == 0:
        message = f"{day}: the day's features have no flights at all"
        return [Finding(VOLUME, "flights scored", "flights", CRITICAL, FIX_FEED, message, 0)]
    if scored is None:
        if not scored_before:
            return []
        message = f"{day}: no predictions were made for the day's {flights} flights"
        return [
            Finding(VOLUME, "flights scored", "flights_scored", CRITICAL, INVESTIGATE, message, 0)
        ]
    share = scored / flights if flights else 1.0
    if share >= thresholds.min_scored_share:
        return []
    message = (
        f"{day}: {scored} of {flights} flights were scored ({share:.0%}, "
        f"expected at least {thresholds.min_scored_share:.0%})"
    )
    return [
        Finding(
            VOLUME,
            "flights scored",
            "flights_scored",
            WARNING,
            INVESTIGATE,
            message,
            share,
            thresholds.min_scored_share,
        )
    ]


def feature_checks(
    day: date,
    profile: dict[str, Any],
    today: pd.DataFrame,
    yesterday: pd.DataFrame | None,
    thresholds: Thresholds,
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """One drift row per profiled feature (what was measured), and the findings among them."""
    rows, found = [], []
    for feature, reference in profile.items():
        watch = watch_of(feature)
        if feature not in today.columns:
            message = f"{day}: feature {feature} is not in the day's features at all"
            found.append(
                Finding(MISSING_FEATURE, watch.feed, feature, CRITICAL, FIX_FEED, message, 1.0)
            )
            continue
        values = today[feature]
        current = shares_of(reference, values)
        daily = reference.get("daily")
        row: dict[str, Any] = {
            "feature": feature,
            "feed": watch.feed,
            "measure": str(watch.measure),
            "psi": round(present_psi(reference["shares"], current), 6),
            "missing_share": round(current[-1], 6),
            "reference_missing_share": round(_usual_missing(reference), 6),
            "day_mean": None,
            "previous_day_mean": None,
            "reference_low": None,
            "reference_high": None,
            "max_reference_step": None,
            "finding": None,
            "note": watch.reason,
            "distribution": json.dumps(
                {
                    "bins": bin_labels(reference),
                    "reference": [round(x, 6) for x in reference["shares"]],
                    "current": [round(x, 6) for x in current],
                    "reference_daily_means": None if daily is None else daily["means"],
                }
            ),
        }
        if daily is not None and reference["kind"] == "numeric":
            numbers = _daily_numbers(daily, values, yesterday, feature, thresholds)
            if watch.measure is not Measure.DAILY:  # a day's mean only: no range to judge by
                numbers.update(reference_low=None, reference_high=None, max_reference_step=None)
            row.update(numbers)
        # Constant today, varied on every training day: only for values that vary flight by
        # flight or hour by hour (three airports may share a day's maximum wind).
        # A feature nearly always one value in training (most aircraft have two engines) may
        # rightly be constant on a day, so it is left out of this check.
        # Weather events are left out: three airports may share a day's maximum wind.
        varies = watch.measure is not Measure.NOT_MEASURED or watch.feed == "delay history"
        varies = varies and not watch.one_per_day and _dominant(reference) < 0.9
        spread = None if not varies else _usual_spread(reference)
        if daily is None and reference["kind"] == "numeric":
            row["note"] = (
                "the champion's profile has no daily reference (trained before it was "
                "recorded): only the missing share is checked until the next training"
            )
        hits = _feed_breaks(day, feature, watch.feed, row, values, spread, thresholds, watch.steady)
        if not hits and watch.measure is Measure.ROWS and row["psi"] > thresholds.max_psi:
            hits = [
                Finding(
                    DRIFT,
                    watch.feed,
                    feature,
                    WARNING,
                    RETRAIN,
                    f"{day}: feature {feature} drifted from training, PSI {row['psi']:.3f} > "
                    f"{thresholds.max_psi}",
                    row["psi"],
                    thresholds.max_psi,
                )
            ]
        if not hits and watch.measure is Measure.DAILY and row["day_mean"] is not None:
            hits = _daily_drift(day, feature, watch.feed, row)
        if hits:
            row["finding"] = "; ".join(h.message.split(": ", 1)[1] for h in hits)
        rows.append(row)
        found.extend(hits)
    return sorted(rows, key=lambda r: -r["psi"]), found


def _usual_spread(reference: dict[str, Any]) -> float | None:
    """How much a feature varied within a training day at the least (None: unknown). A
    categorical one varied whenever its top category held under 90% of training's flights."""
    if reference["kind"] != "numeric":
        return 1.0
    daily = reference.get("daily")
    return None if daily is None else daily.get("min_spread")


def _dominant(reference: dict[str, Any]) -> float:
    """The share of training's present values that fall in its most common bin."""
    *bins, missing = reference["shares"]
    present = 1.0 - missing
    return max(bins, default=0.0) / present if present > 0 else 1.0


def _usual_missing(reference: dict[str, Any]) -> float:
    """The missing share training saw: on its worst day where known (a feature that is often
    absent, like wind gusts, is absent on calm days), else over all its rows."""
    daily = reference.get("daily")
    if daily and daily.get("max_missing") is not None:
        return float(daily["max_missing"])
    return float(reference["shares"][-1])


def _daily_numbers(
    daily: dict[str, Any],
    values: pd.Series,
    yesterday: pd.DataFrame | None,
    feature: str,
    thresholds: Thresholds,
) -> dict[str, Any]:
    means = [m for m in daily["means"] if m is not None]
    present = values.astype("float64").dropna()
    out: dict[str, Any] = {"day_mean": float(present.mean()) if len(present) else None}
    if len(means) >= 2:
        low, high = min(means), max(means)
        margin = thresholds.daily_range_margin * (high - low)
        steps = [abs(b - a) for a, b in pairwise(means)]
        out.update(reference_low=low - margin, reference_high=high + margin)
        out["max_reference_step"] = max(steps) * thresholds.max_step_ratio
    if yesterday is not None and feature in yesterday.columns:
        before = yesterday[feature].astype("float64").dropna()
        out["previous_day_mean"] = float(before.mean()) if len(before) else None
    return out


def _feed_breaks(
    day: date,
    feature: str,
    feed: str,
    row: dict[str, Any],
    values: pd.Series,
    usual_spread: float | None,
    thresholds: Thresholds,
    steady: bool,
) -> list[Finding]:
    """A feed that broke today: the feature went missing, turned constant, or jumped a step no
    training day showed (a unit change such as °F to °C). Critical, and retraining cannot fix it."""
    share, usual = row["missing_share"], row["reference_missing_share"]
    found = []
    if share - usual > thresholds.max_missing_increase:
        found.append(
            Finding(
                MISSING_FEATURE,
                feed,
                feature,
                CRITICAL if share >= 0.99 else WARNING,
                FIX_FEED,
                f"{day}: feature {feature} is missing for {share:.0%} of flights "
                f"(training: at most {usual:.0%} on any day)",
                share,
                usual,
            )
        )
        return found
    present = values.dropna() if usual_spread else values.iloc[:0]
    if len(present) > 1 and present.nunique() == 1:
        value = present.iloc[0]
        found.append(
            Finding(
                DRIFT,
                feed,
                feature,
                CRITICAL,
                FIX_FEED,
                f"{day}: feature {feature} has the same value ({value}) for every flight; "
                "on every training day it varied",
                0.0,
                usual_spread,
            )
        )
        return found
    step, allowed, before = _step(row)
    if steady and step is not None and allowed is not None and step > allowed:
        found.append(
            Finding(
                DRIFT,
                feed,
                feature,
                CRITICAL,
                FIX_FEED,
                f"{day}: feature {feature} stepped from a daily mean of {before:.4g} to "
                f"{row['day_mean']:.4g}, more than any step between training days allows "
                f"({allowed:.4g}): a unit or feed change?",
                step,
                allowed,
            )
        )
    return found


def _step(row: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    today, before = row["day_mean"], row["previous_day_mean"]
    if today is None or before is None or row["max_reference_step"] is None:
        return None, None, before
    return abs(today - before), row["max_reference_step"], before


def _daily_drift(day: date, feature: str, feed: str, row: dict[str, Any]) -> list[Finding]:
    low, high, mean = row["reference_low"], row["reference_high"], row["day_mean"]
    if low is None or low <= mean <= high:
        return []
    return [
        Finding(
            DRIFT,
            feed,
            feature,
            WARNING,
            RETRAIN,
            f"{day}: feature {feature} has a daily mean of {mean:.4g}, outside the range of "
            f"training's days ({low:.4g} to {high:.4g}, widened for the season)",
            mean,
            high if mean > high else low,
        )
    ]
