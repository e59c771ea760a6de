"""Metrics and plots of a probability forecast against binary outcomes.

One definition of "how good is this model" for every place that asks: the training run (model and
baseline on the holdout), the promotion decision (challenger and champion on the same holdout), and
monitoring (realized performance of a day's predictions). Pure functions of arrays; the plots return
matplotlib figures and never show or save anything themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from pipelines.errors import PermanentError

# The metric that decides promotion. ROC-AUC ranks flights by risk, which is what the risk bands and
# the application use; Brier score guards calibration (see `pipelines.promotion`).
PRIMARY_METRIC = "roc_auc"


class EvaluationError(PermanentError, ValueError):
    """The outcomes cannot be scored (empty, one class only, or predictions outside [0, 1])."""


@dataclass(frozen=True)
class Metrics:
    roc_auc: float
    pr_auc: float
    brier: float
    log_loss: float
    rows: int
    positive_rate: float
    mean_prediction: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": float(v) for k, v in asdict(self).items()}


def binary_metrics(y_true, y_prob) -> Metrics:
    """ROC-AUC, PR-AUC (average precision), Brier score and log loss of ``y_prob``."""
    y = np.asarray(y_true, dtype="float64")
    p = np.asarray(y_prob, dtype="float64")
    if y.shape != p.shape or y.ndim != 1:
        raise EvaluationError(f"outcomes {y.shape} and predictions {p.shape}: want 1-d, same size")
    if len(y) == 0:
        raise EvaluationError("no labelled rows to evaluate")
    if np.isnan(y).any() or np.isnan(p).any():
        raise EvaluationError("outcomes and predictions must not contain NaN")
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise EvaluationError("outcomes must be 0 or 1")
    if len(np.unique(y)) < 2:
        raise EvaluationError(
            f"all {len(y)} outcomes are {int(y[0])}: ROC-AUC is undefined; widen the holdout"
        )
    if (p < 0).any() or (p > 1).any():
        raise EvaluationError("predictions must be probabilities in [0, 1]")
    return Metrics(
        roc_auc=float(roc_auc_score(y, p)),
        pr_auc=float(average_precision_score(y, p)),
        brier=float(brier_score_loss(y, p)),
        log_loss=float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])),
        rows=len(y),
        positive_rate=float(y.mean()),
        mean_prediction=float(p.mean()),
    )


def calibration_table(y_true, y_prob, bins: int = 10) -> list[dict[str, float]]:
    """Observed rate per equal-width bin of predicted probability (empty bins left out)."""
    y = np.asarray(y_true, dtype="float64")
    p = np.asarray(y_prob, dtype="float64")
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append(
                {
                    "bin_low": b / bins,
                    "bin_high": (b + 1) / bins,
                    "rows": int(mask.sum()),
                    "mean_prediction": float(p[mask].mean()),
                    "observed_rate": float(y[mask].mean()),
                }
            )
    return rows


def _figure(title: str):
    import matplotlib

    matplotlib.use("Agg")  # no display on workers; must precede pyplot
    import matplotlib.pyplot as plt

    # Constrained layout sizes the axes around the title, labels and legend, so none is clipped.
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100, layout="constrained")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def curves_figures(y_true, scores: dict[str, np.ndarray]) -> dict[str, object]:
    """ROC, precision-recall and calibration plots, one line per named forecast in ``scores``."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y_true, dtype="float64")
    roc, ax_roc = _figure("ROC curve (holdout)")
    pr, ax_pr = _figure("Precision-recall curve (holdout)")
    cal, ax_cal = _figure("Calibration (holdout)")
    for name, p in scores.items():
        m = binary_metrics(y, p)
        fpr, tpr, _ = roc_curve(y, p)
        ax_roc.plot(fpr, tpr, label=f"{name} (AUC {m.roc_auc:.3f})")
        precision, recall, _ = precision_recall_curve(y, p)
        ax_pr.plot(recall, precision, label=f"{name} (AP {m.pr_auc:.3f})")
        table = calibration_table(y, p)
        ax_cal.plot(
            [r["mean_prediction"] for r in table],
            [r["observed_rate"] for r in table],
            marker="o",
            label=f"{name} (Brier {m.brier:.4f})",
        )
    ax_roc.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate")
    ax_pr.axhline(y.mean(), ls="--", c="grey", lw=1, label=f"delay rate {y.mean():.3f}")
    ax_pr.set(xlabel="recall", ylabel="precision")
    ax_cal.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax_cal.set(xlabel="mean predicted probability", ylabel="observed delay rate")
    for ax in (ax_roc, ax_pr, ax_cal):
        ax.legend(loc="best", fontsize="small")
    return {"roc_curve.png": roc, "precision_recall_curve.png": pr, "calibration_curve.png": cal}


def importance_figure(importance: dict[str, float], top: int = 20):
    """Horizontal bars of the ``top`` largest importances, largest on top, each with its value."""
    items = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:top][::-1]
    # Two short title lines: one long line is wider than the axes once the feature names take
    # the left of the figure, and was clipped.
    fig, ax = _figure(f"Permutation importance, top {len(items)} features\n(holdout ROC-AUC drop)")
    fig.set_size_inches(7.0, 0.3 * len(items) + 1.8)
    bars = ax.barh([k for k, _ in items], [v for _, v in items])
    ax.bar_label(bars, fmt="%.4f", padding=2, fontsize="small")
    ax.margins(x=0.15)  # room for the value labels of the longest bars
    ax.set_xlabel("mean decrease in ROC-AUC when the feature is shuffled")
    return fig
