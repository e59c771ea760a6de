"""The champion/challenger rule: when may the model used for scoring change?

A pure function of numbers measured on one holdout, so every case (better, worse, tie, within the
margin, no champion yet, baseline not beaten) is a unit test and the decision can be recorded with
the numbers that made it.

The rule:
0. A challenger trained as of an earlier day than the champion is never promoted: the champion may
   have trained on the challenger's holdout, and "champion from" dates must only move forward.
1. The challenger must beat the naive baseline on the holdout: higher ROC-AUC **and** lower Brier
   score. A model that ranks well but is worse calibrated than a trailing average is not shipped.
2. With no champion, that is enough: the first model that beats the baseline becomes champion.
3. With a champion (scored on the same holdout), the challenger's ROC-AUC must exceed the
   champion's by at least ``margin`` (and by more than nothing, so a tie never moves the alias), and
   its Brier score must not be worse than the champion's by more than ``margin``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.evaluation import Metrics

# Metric differences smaller than this are float noise: a gain of exactly the margin counts.
TOLERANCE = 1e-9
PROMOTED = "promoted"
REJECTED = "rejected"


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    challenger_roc_auc: float
    baseline_roc_auc: float
    champion_roc_auc: float | None
    margin: float

    @property
    def outcome(self) -> str:
        return PROMOTED if self.promote else REJECTED

    def as_tags(self, prefix: str = "promotion.") -> dict[str, str]:
        tags = {
            "decision": self.outcome,
            "reason": self.reason,
            "challenger_roc_auc": f"{self.challenger_roc_auc:.6f}",
            "baseline_roc_auc": f"{self.baseline_roc_auc:.6f}",
            "champion_roc_auc": (
                "none" if self.champion_roc_auc is None else f"{self.champion_roc_auc:.6f}"
            ),
            "margin": f"{self.margin:g}",
        }
        return {prefix + k: v for k, v in tags.items()}


def decide_promotion(
    challenger: Metrics,
    baseline: Metrics,
    champion: Metrics | None,
    margin: float,
    challenger_as_of: str | None = None,
    champion_as_of: str | None = None,
) -> Decision:
    """Promote ``challenger`` over ``champion`` (None: none yet)? See the module docstring."""
    if not 0 <= margin < 1:
        raise ValueError(f"promotion margin must be in [0, 1); got {margin}")

    def decision(promote: bool, reason: str) -> Decision:
        return Decision(
            promote=promote,
            reason=reason,
            challenger_roc_auc=challenger.roc_auc,
            baseline_roc_auc=baseline.roc_auc,
            champion_roc_auc=None if champion is None else champion.roc_auc,
            margin=margin,
        )

    c, b = challenger, baseline
    older = champion is not None and challenger_as_of and champion_as_of
    if older and challenger_as_of < champion_as_of:
        return decision(
            False,
            f"trained as of {challenger_as_of}, before the champion's {champion_as_of}: an "
            "older model never replaces a newer one (the champion may have seen this holdout)",
        )
    if c.roc_auc <= b.roc_auc:
        return decision(
            False,
            f"does not beat the baseline: ROC-AUC {c.roc_auc:.4f} <= baseline {b.roc_auc:.4f}",
        )
    if c.brier >= b.brier:
        return decision(
            False,
            f"does not beat the baseline: Brier {c.brier:.4f} >= baseline {b.brier:.4f}",
        )
    if champion is None:
        return decision(
            True,
            f"no champion yet; beats the baseline (ROC-AUC {c.roc_auc:.4f} > {b.roc_auc:.4f}, "
            f"Brier {c.brier:.4f} < {b.brier:.4f})",
        )
    gain = c.roc_auc - champion.roc_auc
    if gain <= TOLERANCE:
        word = "ties" if abs(gain) <= TOLERANCE else "is worse than"
        return decision(
            False,
            f"{word} the champion: ROC-AUC {c.roc_auc:.4f} vs {champion.roc_auc:.4f}",
        )
    if gain < margin - TOLERANCE:
        return decision(
            False,
            f"gain over the champion within the margin: ROC-AUC +{gain:.4f} < {margin:g}",
        )
    if c.brier > champion.brier + margin:
        return decision(
            False,
            f"worse calibrated than the champion: Brier {c.brier:.4f} > "
            f"{champion.brier:.4f} + margin {margin:g}",
        )
    return decision(
        True,
        f"beats the champion by ROC-AUC +{gain:.4f} (margin {margin:g}) and the baseline",
    )
