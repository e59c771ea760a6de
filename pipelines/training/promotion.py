"""Promotion: the champion/challenger rule, and the stage that applies it to a new version.

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

import logging
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import models.flight_delay as fd
from pipelines.dates import Interval, as_date
from pipelines.evaluation import Metrics, binary_metrics
from pipelines.storage import registry
from pipelines.training import model_card
from pipelines.training.dataset import load_features, require_enough

log = logging.getLogger(__name__)

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
    if (
        champion is not None
        and challenger_as_of is not None
        and champion_as_of is not None
        and challenger_as_of < champion_as_of
    ):
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


@dataclass(frozen=True)
class PromotionResult:
    model_name: str
    version: str
    decision: str
    reason: str
    champion_before: str | None
    champion_after: str | None
    challenger: dict[str, float]
    champion: dict[str, float] | None
    baseline: dict[str, float]
    margin: float
    holdout: str

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_and_promote(
    lake_root: Path,
    tracking_uri: str,
    version: str,
    holdout: Interval,
    as_of: date | str,
    margin: float,
    pipeline_run_id: str,
) -> PromotionResult:
    """Score ``version`` and the champion on ``holdout``; move ``@champion`` only if it should.

    Idempotent and safe to rerun after a crash at any step: the champion it is compared with is
    recorded on the version first (``promotion.champion_version``), then the alias moves, then the
    hand-over and decision tags are written. A rerun finds the recorded champion, reaches the same
    decision on the same holdout, and completes whatever was left undone.
    """
    client = registry.client(tracking_uri)
    name, version, as_of_s = fd.MODEL_NAME, str(version), str(as_date(as_of))
    data = load_features(lake_root, holdout)
    require_enough(data, "holdout", 1, 100)
    current = registry.get_champion(client, name)
    registered = client.get_model_version(name, version)
    recorded = registered.tags.get("promotion.champion_version")
    if current is not None and str(current.version) == version:
        # A rerun after the alias moved to this version: compare with the champion it replaced.
        champion_version = None if recorded in (None, "none") else recorded
    else:
        champion_version = None if current is None else str(current.version)
    client.set_model_version_tag(
        name, version, "promotion.champion_version", champion_version or "none"
    )

    challenger_model = registry.load_sklearn(name, version)
    challenger = binary_metrics(data.y, fd.predict(challenger_model, data.frame))
    baseline = binary_metrics(data.y, fd.baseline_probability(data.frame))
    champ_metrics: Metrics | None = None
    champion_as_of = None
    if champion_version is not None:
        champ_model = registry.load_sklearn(name, champion_version)
        champ_metrics = binary_metrics(data.y, fd.predict(champ_model, data.frame))
        champion_as_of = client.get_model_version(name, champion_version).tags.get("data.as_of")
    decision: Decision = decide_promotion(
        challenger, baseline, champ_metrics, margin, as_of_s, champion_as_of
    )

    run_id = registered.run_id
    if run_id and champ_metrics is not None:
        for metric, number in champ_metrics.as_dict("champion_").items():
            client.log_metric(run_id, metric, number)
    after = None if current is None else str(current.version)
    if decision.promote:
        registry.move_champion(client, name, version, as_of_s, previous=champion_version)
        after = version
    tags = {
        **decision.as_tags(),
        "promotion.challenger_brier": f"{challenger.brier:.6f}",
        "promotion.baseline_brier": f"{baseline.brier:.6f}",
        "promotion.champion_brier": "none"
        if champ_metrics is None
        else f"{champ_metrics.brier:.6f}",
        "promotion.holdout": str(holdout),
        "promotion.decided_by": pipeline_run_id,
    }
    # The decision last: a version tagged "promoted" is one the alias already points at.
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    log.info("%s version %s %s: %s", name, version, decision.outcome, decision.reason)
    result = PromotionResult(
        name,
        version,
        decision.outcome,
        decision.reason,
        champion_version,
        after,
        challenger.as_dict(),
        None if champ_metrics is None else champ_metrics.as_dict(),
        baseline.as_dict(),
        margin,
        str(holdout),
    )
    if run_id:
        model_card.publish_model_card(
            client, model_card.load_training_summary(client, run_id), version, result.summary()
        )
    return result
