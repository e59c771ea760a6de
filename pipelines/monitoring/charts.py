"""The monitoring report's charts: matplotlib figures rendered to PNG (base64), every line and
threshold named in a legend. Pure functions of the monitoring tables' frames."""

from __future__ import annotations

import base64
import io
import json

import pandas as pd

from pipelines.settings import Thresholds

TOP_FEATURES = 6


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _text(label: object) -> str:
    """A label as plain text: a ``$`` in source data would start matplotlib's math mode."""
    return str(label).replace("$", r"\$")


def png(fig) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def performance_chart(perf: pd.DataFrame, thresholds: Thresholds) -> str | None:
    """ROC-AUC and Brier score per day against their thresholds; predicted against actual rate."""
    return None if perf.empty else png(performance_figure(perf, thresholds))


def performance_figure(perf: pd.DataFrame, thresholds: Thresholds):
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    lines = ax1.plot(perf["dt"], perf["roc_auc"], marker="o", c="tab:blue", label="ROC-AUC")
    lines.append(
        ax1.axhline(
            thresholds.min_roc_auc,
            ls="--",
            c="tab:blue",
            lw=1,
            label=f"ROC-AUC alert below {thresholds.min_roc_auc}",
        )
    )
    ax1b = ax1.twinx()
    lines += ax1b.plot(
        perf["dt"], perf["brier"], marker="s", c="tab:orange", label="Brier score (right axis)"
    )
    lines.append(
        ax1b.axhline(
            thresholds.max_brier,
            ls=":",
            c="tab:orange",
            lw=1.5,
            label=f"Brier alert above {thresholds.max_brier}",
        )
    )
    ax1.set_ylabel("ROC-AUC (higher is better)")
    ax1b.set_ylabel("Brier score (lower is better)")
    # Outside the axes, so no legend hides a point.
    ax1.legend(
        lines,
        [x.get_label() for x in lines],
        loc="upper left",
        bbox_to_anchor=(1.13, 1),
        fontsize="small",
    )
    ax1.set_title("Realized performance of the predictions, per day")
    ax2.plot(perf["dt"], perf["predicted_delay_rate"], marker="o", label="predicted delay rate")
    ax2.plot(perf["dt"], perf["actual_delay_rate"], marker="s", label="actual delay rate")
    ax2.set_ylabel("share of flights delayed >15 min")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.13, 1), fontsize="small")
    ax2.set_title("Predicted against actual delay rate")
    fig.autofmt_xdate()
    return fig


def distance(row: pd.Series, max_psi: float) -> float:
    """How far a feature is from training, comparable across measures: 1.0 at its threshold
    (the PSI limit, or the edge of training's widened daily range), 0 when not measured."""
    if row["measure"] == "daily" and pd.notna(row["day_mean"]) and pd.notna(row["reference_high"]):
        low, high = row["reference_low"], row["reference_high"]
        half = max((high - low) / 2, 1e-9)
        return abs(row["day_mean"] - (low + high) / 2) / half
    return float(row["psi"]) / max_psi if row["measure"] == "rows" else 0.0


def ranked(drift_day: pd.DataFrame, max_psi: float) -> pd.DataFrame:
    """The day's drift rows: drifted first, then the measured ones furthest from training."""
    if drift_day.empty:
        return drift_day
    out = drift_day.assign(distance=drift_day.apply(distance, axis=1, max_psi=max_psi))
    return out.sort_values(["drifted", "distance"], ascending=False)


def top_features(drift_day: pd.DataFrame, max_psi: float = 0.25) -> list[str]:
    """The drifted features, then the measured ones furthest from training, ``TOP_FEATURES``."""
    if drift_day.empty:
        return []
    measured = ranked(drift_day, max_psi)
    measured = measured[measured["measure"] != "not_measured"]
    return measured["feature"].tolist()[:TOP_FEATURES]


def drift_over_time_chart(
    history: pd.DataFrame, features: list[str], thresholds: Thresholds
) -> str | None:
    """One panel per feature: PSI per day (flight-level features) or the daily mean inside
    training's range (day-level features)."""
    if history.empty or not features:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(len(features), 1, figsize=(9, 1.9 * len(features) + 0.6), sharex=True)
    axes = [axes] if len(features) == 1 else list(axes)
    for ax, feature in zip(axes, features, strict=True):
        rows = history[history["feature"] == feature].sort_values("dt")
        if rows.empty:
            continue
        if rows["measure"].iloc[-1] == "daily":
            ax.plot(rows["dt"], rows["day_mean"], marker="o", label="daily mean")
            ax.fill_between(
                rows["dt"],
                rows["reference_low"],
                rows["reference_high"],
                alpha=0.15,
                label="training days' range (widened)",
            )
        else:
            ax.plot(rows["dt"], rows["psi"], marker="o", label="PSI against training")
            ax.axhline(
                thresholds.max_psi,
                ls="--",
                c="red",
                lw=1,
                label=f"alert above {thresholds.max_psi}",
            )
        hit = rows[rows["drifted"]]
        if not hit.empty:
            y = hit["day_mean"] if rows["measure"].iloc[-1] == "daily" else hit["psi"]
            ax.scatter(hit["dt"], y, c="red", zorder=3, label="finding")
        ax.set_title(feature, fontsize="medium", loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="x-small")
    fig.autofmt_xdate()
    return png(fig)


def distribution_chart(row: pd.Series) -> str | None:
    """Training against the day, for one feature: shares per bin of flights, or (for a day-level
    feature) training's daily means with the day's mean and the range it was judged by."""
    spec = json.loads(row["distribution"]) if row.get("distribution") else None
    if not spec:
        return None
    plt = _pyplot()
    means = [m for m in spec.get("reference_daily_means") or [] if m is not None]
    if row["measure"] == "daily" and means and pd.notna(row["day_mean"]):
        fig, ax = plt.subplots(figsize=(9, 2.8))
        ax.hist(means, bins=min(20, len(means)), label="training days' means (champion)")
        ax.axvline(row["day_mean"], c="red", lw=2, label=f"this day: {row['day_mean']:.4g}")
        if pd.notna(row["reference_low"]):
            ax.axvspan(
                row["reference_low"],
                row["reference_high"],
                alpha=0.1,
                color="green",
                label="range judged usual (widened)",
            )
        ax.set_xlabel(f"daily mean of {row['feature']}")
        ax.set_ylabel("training days")
        ax.set_title(f"{row['feature']}: daily means", fontsize="medium", loc="left")
        ax.legend(fontsize="small")
        return png(fig)
    bins = spec["bins"]
    x = range(len(bins))
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.bar([i - 0.2 for i in x], spec["reference"], width=0.4, label="training (champion)")
    ax.bar([i + 0.2 for i in x], spec["current"], width=0.4, label="this day")
    ax.set_xticks(list(x), [_text(b) for b in bins], rotation=45, ha="right", fontsize="x-small")
    ax.set_ylabel("share of flights")
    ax.set_title(f"{row['feature']}: distribution over flights", fontsize="medium", loc="left")
    ax.legend(fontsize="small")
    return png(fig)
