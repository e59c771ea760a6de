"""What a training run may vary, and how it splits its window: one definition for the DAG's
Params and for the run itself, so their bounds cannot disagree.

Import-light on purpose: the training DAG builds its Params form from :data:`PARAMS` at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from pipelines.dates import Interval
from pipelines.errors import PermanentError

# The training slice must span at least this many days (and the window holds two holdouts more).
MIN_FIT_DAYS = 14


class InvalidTrainingConfig(PermanentError, ValueError):
    """The Params do not describe a usable split (checked together, beyond each Param's range)."""


@dataclass(frozen=True)
class ParamSpec:
    """One tunable of a training run: its default, inclusive range and meaning."""

    default: int | float
    minimum: int | float
    maximum: int | float
    description: str

    @property
    def json_type(self) -> str:
        return "integer" if isinstance(self.default, int) else "number"


PARAMS: dict[str, ParamSpec] = {
    "window_days": ParamSpec(
        182,
        2 * 1 + MIN_FIT_DAYS,
        730,
        f"Trailing days to use; at least 2 x holdout_days + {MIN_FIT_DAYS}.",
    ),
    "holdout_days": ParamSpec(14, 1, 183, "Last days held out (the validation slice is as long)."),
    "promotion_margin": ParamSpec(
        0.002, 0, 0.1, "ROC-AUC gain over the champion needed to move @champion."
    ),
    "search_budget": ParamSpec(0, 0, 50, "Randomized-search trials (0: the reviewed params.json)."),
}


@dataclass(frozen=True)
class TrainingConfig:
    """What a training run may vary, validated together (the DAG's Params feed it)."""

    window_days: int = int(PARAMS["window_days"].default)
    holdout_days: int = int(PARAMS["holdout_days"].default)
    promotion_margin: float = float(PARAMS["promotion_margin"].default)
    search_budget: int = int(PARAMS["search_budget"].default)

    def __post_init__(self) -> None:
        for name, spec in PARAMS.items():
            value = getattr(self, name)
            if not spec.minimum <= value <= spec.maximum:
                raise InvalidTrainingConfig(
                    f"{name} must be {spec.minimum}..{spec.maximum}; got {value}"
                )
        least = 2 * self.holdout_days + MIN_FIT_DAYS
        if self.window_days < least:
            raise InvalidTrainingConfig(
                f"window_days={self.window_days} leaves no room to train: it must be at least "
                f"2 x holdout_days + {MIN_FIT_DAYS} = {least} (validation and holdout slices are "
                "holdout_days each)"
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainingConfig:
        known = {k: params[k] for k in asdict(cls()) if params.get(k) is not None}
        return cls(**known)


@dataclass(frozen=True)
class Split:
    as_of: date
    window: Interval
    search_train: Interval
    validation: Interval
    holdout: Interval

    @property
    def fit(self) -> Interval:
        return Interval(self.window.start, self.holdout.start)

    @classmethod
    def plan(cls, as_of: date, config: TrainingConfig) -> Split:
        h = timedelta(days=config.holdout_days)
        holdout = Interval(as_of - h, as_of)
        validation = Interval(holdout.start - h, holdout.start)
        window = Interval(as_of - timedelta(days=config.window_days), as_of)
        return cls(as_of, window, Interval(window.start, validation.start), validation, holdout)

    def as_params(self) -> dict[str, str]:
        return {
            "as_of": str(self.as_of),
            "window": str(self.window),
            "fit": str(self.fit),
            "search_train": str(self.search_train),
            "validation": str(self.validation),
            "holdout": str(self.holdout),
        }
