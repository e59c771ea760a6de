"""Train the flight_delay model, track it in MLflow, register it, and decide its promotion.

Two steps, two DAG tasks, so a registry hiccup retries the decision without refitting:

1. :func:`train_challenger` reads ``features.flight_features`` over a trailing window that ends at
   ``as_of`` (exclusive), splits it **by time** (never at random)::

       window start ........................ holdout.start - holdout_days   holdout.start    as_of
       |------------------ search_train -------------------|--- validation ---|--- holdout ---|
       |------------------------------- fit -------------------------------|

   optionally runs a seeded randomized search (child runs, each scored on the validation slice),
   fits the chosen parameters on ``fit``, scores the holdout against the naive baseline, logs
   everything to one MLflow run and registers the model as a new version of ``flight_delay``.
2. :func:`evaluate_and_promote` scores the new version and the current ``@champion`` on the
   **same** holdout and applies :func:`pipelines.promotion.decide_promotion`; the decision and its
   numbers become version tags, and only a promotion moves the alias.

Same data and parameters give the same model and the same metrics (fixed seed, sorted input).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import models.flight_delay as fd
from pipelines import lake, registry
from pipelines.dates import Interval, as_date
from pipelines.errors import PermanentError
from pipelines.evaluation import Metrics, binary_metrics, curves_figures, importance_figure
from pipelines.monitoring import PROFILE_ARTIFACT, feature_profile
from pipelines.promotion import Decision, decide_promotion

log = logging.getLogger(__name__)

FEATURE_TABLE = ("features", "flight_features")
EXPERIMENT = fd.MODEL_NAME
SUMMARY_ARTIFACT = "training_summary.json"
MIN_FIT_DAYS = 14
MIN_FIT_ROWS = 2_000
# Permutation importance on a sample of the holdout: enough rows for a stable ranking, bounded cost.
IMPORTANCE_ROWS = 5_000
IMPORTANCE_REPEATS = 3


class InsufficientTrainingData(PermanentError, ValueError):
    """The window does not hold enough labelled feature partitions to fit or to judge a model."""


class InvalidTrainingConfig(PermanentError, ValueError):
    """The Params do not describe a usable split (checked together, beyond each Param's range)."""


@dataclass(frozen=True)
class TrainingConfig:
    """What a training run may vary, validated together (the DAG's Params feed it)."""

    window_days: int = 182
    holdout_days: int = 14
    promotion_margin: float = 0.002
    search_budget: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.holdout_days <= 183:
            raise InvalidTrainingConfig(f"holdout_days must be 1..183; got {self.holdout_days}")
        least = 2 * self.holdout_days + MIN_FIT_DAYS
        if self.window_days < least:
            raise InvalidTrainingConfig(
                f"window_days={self.window_days} leaves no room to train: it must be at least "
                f"2 x holdout_days + {MIN_FIT_DAYS} = {least} (validation and holdout slices are "
                "holdout_days each)"
            )
        if not 0 <= self.promotion_margin < 0.5:
            raise InvalidTrainingConfig(
                f"promotion_margin must be in [0, 0.5); got {self.promotion_margin}"
            )
        if not 0 <= self.search_budget <= 50:
            raise InvalidTrainingConfig(
                f"search_budget must be 0..50 trials; got {self.search_budget}"
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


@dataclass
class Dataset:
    """Labelled feature rows of an interval, and the partitions they came from."""

    interval: Interval
    frame: pd.DataFrame
    partitions: list[dict[str, Any]] = field(default_factory=list)
    missing_days: list[date] = field(default_factory=list)

    @property
    def x(self) -> pd.DataFrame:
        return fd.feature_frame(self.frame)

    @property
    def y(self) -> np.ndarray:
        return self.frame[fd.LABEL].to_numpy(dtype="int8")

    def between(self, interval: Interval) -> Dataset:
        days = self.frame["dt"]
        frame = self.frame[(days >= interval.start) & (days < interval.end)]
        parts = [p for p in self.partitions if interval.start <= p["dt"] < interval.end]
        missing = [d for d in self.missing_days if interval.start <= d < interval.end]
        return Dataset(interval, frame.reset_index(drop=True), parts, missing)


def load_features(lake_root: Path, interval: Interval) -> Dataset:
    """Every ``features.flight_features`` partition of ``interval`` with its labelled rows.

    Rows without a label (cancelled or diverted flights) are left out. The frame is sorted by
    day and key, so the same partitions always give the same rows in the same order.
    """
    tables, partitions, missing = [], [], []
    for day in interval.days():
        if not lake.has_partition(lake_root, *FEATURE_TABLE, day):
            missing.append(day)
            continue
        table = lake.read_partition(lake_root, *FEATURE_TABLE, day)
        labelled = table.filter(pc.is_valid(table.column(fd.LABEL)))
        run_ids = sorted(set(table.column(lake.RUN_ID_COLUMN).to_pylist()))
        partitions.append(
            {
                "dt": day,
                "rows": table.num_rows,
                "labelled_rows": labelled.num_rows,
                "pipeline_run_id": ",".join(run_ids),
            }
        )
        dt = pa.array([day] * labelled.num_rows, pa.date32())
        tables.append(labelled.append_column("dt", dt))
    if tables:
        frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
        frame["dt"] = pd.to_datetime(frame["dt"]).dt.date
        frame = frame.sort_values(["dt", *fd.KEY[1:]], kind="stable").reset_index(drop=True)
    else:
        frame = pd.DataFrame(columns=[*fd.FEATURES, fd.LABEL, "dt"])
    return Dataset(interval, frame, partitions, missing)


# The baseline's fallback when a route has no history: the trailing rate of all flights, then the
# same 20% prior the feature SQL smooths toward.
PRIOR_DELAY_RATE = 0.2


def baseline_probability(frame: pd.DataFrame) -> np.ndarray:
    """The naive forecast a model must beat: the route's trailing 28-day delay rate."""
    rate = frame[fd.BASELINE_FEATURE].astype("float64")
    rate = rate.fillna(frame["all_flights_delay_rate_28d"].astype("float64"))
    return rate.fillna(PRIOR_DELAY_RATE).clip(0.0, 1.0).to_numpy()


def predict(model, frame: pd.DataFrame) -> np.ndarray:
    """P(delayed) for each row, with the columns *this model* was fitted on.

    A champion fitted before a feature change still scores: it gets its own columns (the feature
    table keeps every column it ever had), typed as at fit time.
    """
    columns = list(getattr(model, "feature_names_in_", fd.FEATURES))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"the model needs columns the frame lacks: {missing}")
    x = frame[columns].copy()
    for c in columns:
        x[c] = x[c].astype("object" if c in fd.CATEGORICAL else "float64")
    return model.predict_proba(x)[:, 1]


def _check(dataset: Dataset, what: str, min_days: int, min_rows: int) -> None:
    days = len(dataset.partitions)
    rows = len(dataset.frame)
    if days < min_days or rows < min_rows:
        raise InsufficientTrainingData(
            f"{what} {dataset.interval} has {days} feature partitions and {rows} labelled rows; "
            f"needs at least {min_days} days and {min_rows} rows. Run flights_daily for those "
            "days first (missing: "
            + (", ".join(str(d) for d in dataset.missing_days[:5]) or "none")
            + (" ..." if len(dataset.missing_days) > 5 else "")
            + ")"
        )
    if len(np.unique(dataset.y)) < 2:
        raise InsufficientTrainingData(f"{what} {dataset.interval} has only one outcome class")


def sample_candidates(budget: int, seed: int = fd.SEED) -> list[dict[str, Any]]:
    """The reviewed defaults first, then ``budget`` distinct random draws from the search space."""
    defaults = fd.default_params()
    candidates = [defaults]
    rng = random.Random(seed)
    space = fd.SEARCH_SPACE
    size = int(np.prod([len(v) for v in space.values()]))
    while len(candidates) < min(budget + 1, size):
        draw = {name: rng.choice(values) for name, values in sorted(space.items())}
        if draw not in candidates:
            candidates.append(draw)
    return candidates


@dataclass(frozen=True)
class TrainResult:
    model_name: str
    version: str
    mlflow_run_id: str
    as_of: str
    holdout: tuple[str, str]
    params: dict[str, Any]
    metrics: dict[str, float]
    baseline: dict[str, float]

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def _search(
    mlflow, experiment_id: str, data: Dataset, split: Split, budget: int
) -> tuple[dict[str, Any], int]:
    """Fit each candidate on ``search_train``, score on ``validation``; child runs. Best wins."""
    train, valid = data.between(split.search_train), data.between(split.validation)
    _check(train, "search training slice", MIN_FIT_DAYS, MIN_FIT_ROWS)
    _check(valid, "validation slice", 1, 100)
    best, best_auc = 0, -1.0
    candidates = sample_candidates(budget)
    for i, params in enumerate(candidates):
        # Children name the experiment: it defaults to the active one, not the parent's.
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"search {i:02d}", nested=True):
            mlflow.set_tag("nightshift.role", "search-trial")
            mlflow.log_params({"trial": i, **params})
            model = fd.build_pipeline(params).fit(train.x, train.y)
            metrics = binary_metrics(valid.y, predict(model, valid.frame))
            mlflow.log_metrics(metrics.as_dict("validation_"))
        log.info("search trial %d: validation ROC-AUC %.4f %s", i, metrics.roc_auc, params)
        if metrics.roc_auc > best_auc:
            best, best_auc = i, metrics.roc_auc
    mlflow.log_metric("search_best_validation_roc_auc", best_auc)
    return candidates[best], best


def train_challenger(
    lake_root: Path,
    tracking_uri: str,
    artifact_root: Path | None,
    as_of: date | str,
    config: TrainingConfig,
    pipeline_run_id: str,
    params: dict[str, Any] | None = None,
) -> TrainResult:
    """Fit on the window before ``as_of``, log the MLflow run, register a new version."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    split = Split.plan(as_of_date := as_date(as_of), config)
    data = load_features(lake_root, split.window)
    fit, holdout = data.between(split.fit), data.between(split.holdout)
    _check(fit, "training slice", MIN_FIT_DAYS, MIN_FIT_ROWS)
    _check(holdout, "holdout", max(1, config.holdout_days // 2), 100)

    client = registry.client(tracking_uri)
    experiment_id = registry.ensure_experiment(
        client, EXPERIMENT, artifact_root if registry.is_local_store(tracking_uri) else None
    )
    earlier = _registered_by(client, experiment_id, pipeline_run_id, as_of_date)
    if earlier is not None:
        log.info("this run already registered version %s (a retry): reusing it", earlier.version)
        return earlier
    tags = {
        "nightshift.role": "training",
        "nightshift.pipeline_run_id": pipeline_run_id,
        "nightshift.as_of": str(as_of_date),
    }
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"{fd.MODEL_NAME} as of {as_of_date}", tags=tags
    ) as run:
        mlflow.log_params({f"config.{k}": v for k, v in asdict(config).items()})
        mlflow.log_params({f"split.{k}": v for k, v in split.as_params().items()})
        mlflow.log_params(
            {
                "data.fit_rows": len(fit.frame),
                "data.fit_days": len(fit.partitions),
                "data.holdout_rows": len(holdout.frame),
                "data.holdout_days": len(holdout.partitions),
                "data.missing_days": len(data.missing_days),
                "model.seed": fd.SEED,
                "model.features": len(fd.FEATURES),
            }
        )
        mlflow.log_dict(
            {
                "table": ".".join(FEATURE_TABLE),
                "lake_root": str(lake_root),
                "partitions": [{**p, "dt": str(p["dt"])} for p in data.partitions],
                "missing_days": [str(d) for d in data.missing_days],
            },
            "data/partitions.json",
        )

        if params is not None:
            chosen, source = {**fd.default_params(), **params}, "given"
        elif config.search_budget > 0:
            chosen, best = _search(mlflow, experiment_id, data, split, config.search_budget)
            source = f"search trial {best}"
        else:
            chosen, source = fd.default_params(), "params.json"
        mlflow.log_params({f"model.{k}": v for k, v in chosen.items()})
        # The distribution of every feature in the fit slice: monitoring's drift reference.
        mlflow.log_dict(feature_profile(fit.frame), PROFILE_ARTIFACT)
        mlflow.set_tag("nightshift.params_source", source)

        model = fd.build_pipeline(chosen).fit(fit.x, fit.y)
        p_model = predict(model, holdout.frame)
        p_base = baseline_probability(holdout.frame)
        metrics = binary_metrics(holdout.y, p_model)
        baseline = binary_metrics(holdout.y, p_base)
        mlflow.log_metrics(metrics.as_dict("holdout_"))
        mlflow.log_metrics(baseline.as_dict("baseline_"))

        curves = curves_figures(holdout.y, {"model": p_model, "baseline": p_base})
        for name, figure in curves.items():
            mlflow.log_figure(figure, f"plots/{name}")
        importance = _permutation_importance(model, holdout)
        mlflow.log_dict(importance, "plots/feature_importance.json")
        mlflow.log_figure(importance_figure(importance), "plots/feature_importance.png")
        _close_figures()

        mlflow.log_dict(
            {
                "as_of": str(as_of_date),
                "holdout": [str(split.holdout.start), str(split.holdout.end)],
                "params": chosen,
                "metrics": metrics.as_dict(),
                "baseline": baseline.as_dict(),
            },
            SUMMARY_ARTIFACT,
        )
        example = fd.feature_frame(holdout.frame.head(5))
        with registry.quiet_skops():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="skops",
                skops_trusted_types=fd.SKOPS_TRUSTED_TYPES,
                pyfunc_predict_fn="predict_proba",
                signature=infer_signature(example, model.predict_proba(example)),
                input_example=example,
                pip_requirements=registry.pinned_requirements("scikit-learn", "skops", "pandas"),
                registered_model_name=fd.MODEL_NAME,
            )
        version = str(info.registered_model_version)
        for key, value in {
            "nightshift.pipeline_run_id": pipeline_run_id,
            "data.as_of": str(as_of_date),
            "data.holdout": str(split.holdout),
            "holdout_roc_auc": f"{metrics.roc_auc:.6f}",
            "baseline_roc_auc": f"{baseline.roc_auc:.6f}",
        }.items():
            client.set_model_version_tag(fd.MODEL_NAME, version, key, value)
        log.info(
            "registered %s version %s (run %s): holdout ROC-AUC %.4f, baseline %.4f",
            fd.MODEL_NAME,
            version,
            run.info.run_id,
            metrics.roc_auc,
            baseline.roc_auc,
        )
    return TrainResult(
        fd.MODEL_NAME,
        version,
        run.info.run_id,
        str(as_of_date),
        (str(split.holdout.start), str(split.holdout.end)),
        chosen,
        metrics.as_dict(),
        baseline.as_dict(),
    )


def _registered_by(client, experiment_id: str, pipeline_run_id: str, as_of: date):
    """The version an earlier attempt of this pipeline run registered, if any (retries reuse it)."""
    import mlflow.artifacts

    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.`nightshift.as_of` = '{as_of}' and tags.`nightshift.role` = 'training'"
        ),
    )
    for run in runs:
        if run.data.tags.get("nightshift.pipeline_run_id") != pipeline_run_id:
            continue
        versions = client.search_model_versions(f"run_id = '{run.info.run_id}'")
        if not versions:
            continue
        summary = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/{SUMMARY_ARTIFACT}")
        return TrainResult(
            fd.MODEL_NAME,
            str(max(int(v.version) for v in versions)),
            run.info.run_id,
            summary["as_of"],
            tuple(summary["holdout"]),
            summary["params"],
            summary["metrics"],
            summary["baseline"],
        )
    return None


def _permutation_importance(model, holdout: Dataset) -> dict[str, float]:
    from sklearn.inspection import permutation_importance

    sample = holdout.frame
    if len(sample) > IMPORTANCE_ROWS:
        sample = sample.sample(IMPORTANCE_ROWS, random_state=fd.SEED)
    result = permutation_importance(
        model,
        fd.feature_frame(sample),
        sample[fd.LABEL].to_numpy(dtype="int8"),
        scoring="roc_auc",
        n_repeats=IMPORTANCE_REPEATS,
        random_state=fd.SEED,
    )
    return {
        name: round(float(v), 6)
        for name, v in sorted(
            zip(fd.FEATURES, result.importances_mean, strict=True), key=lambda kv: -kv[1]
        )
    }


def _close_figures() -> None:
    import matplotlib.pyplot as plt

    plt.close("all")


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
    _check(data, "holdout", 1, 100)
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

    challenger = binary_metrics(data.y, predict(registry.load_sklearn(name, version), data.frame))
    baseline = binary_metrics(data.y, baseline_probability(data.frame))
    champ_metrics: Metrics | None = None
    champion_as_of = None
    if champion_version is not None:
        champ_model = registry.load_sklearn(name, champion_version)
        champ_metrics = binary_metrics(data.y, predict(champ_model, data.frame))
        champion_as_of = client.get_model_version(name, champion_version).tags.get("data.as_of")
    decision: Decision = decide_promotion(
        challenger, baseline, champ_metrics, margin, as_of_s, champion_as_of
    )

    run_id = registered.run_id
    if run_id and champ_metrics is not None:
        for key, value in champ_metrics.as_dict("champion_").items():
            client.log_metric(run_id, key, value)
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
    return PromotionResult(
        name,
        version,
        decision.outcome,
        decision.reason,
        champion_version,
        after,
        challenger.as_dict(),
        None if champ_metrics is None else champ_metrics.as_dict(),
        baseline.as_dict(),
    )
