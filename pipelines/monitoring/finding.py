"""A finding: one crossed threshold on one monitored day, and the vocabulary of its kinds.

Import-free, so the incident fold and the checks that produce findings share it without one
depending on the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PERFORMANCE, DRIFT, MISSING_FEATURE, VOLUME = "performance", "drift", "missing_feature", "volume"
KINDS = (PERFORMANCE, DRIFT, MISSING_FEATURE, VOLUME)
WARNING, CRITICAL = "warning", "critical"
RETRAIN, FIX_FEED, INVESTIGATE = "retrain", "fix the feed", "investigate"


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # what an incident is about: a feed, "realized performance", "flights scored"
    item: str  # the feature or metric within it
    severity: str
    remedy: str
    message: str
    value: float | None = None
    threshold: float | None = None

    def row(self) -> dict[str, Any]:
        return asdict(self)
