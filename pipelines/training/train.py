"""Train the flight_delay model, track it in MLflow and register it as a new version.

:func:`train_challenger` reads ``features.flight_features`` over a trailing window that ends at
``as_of`` (exclusive) and splits it **by time** (never at random; :class:`Split`)::

    window start ........................ holdout.start - holdout_days   holdout.start    as_of
    |------------------ search_train -------------------|--- validation ---|--- holdout ---|
    |------------------------------- fit -------------------------------|

It optionally runs a seeded randomized search (child runs, each scored on the validation slice),
fits the chosen parameters on ``fit``, scores the holdout against the naive baseline, logs
everything to one MLflow run and registers the model. Whether the new version becomes
``@champion`` is the next task's decision (:mod:`pipelines.training.promotion`), so a registry
hiccup retries the decision without refitting.

Same data and parameters give the same model and the same metrics (fixed seed, sorted input).
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

import models.flight_delay as fd
from pipelines import tables
from pipelines.dates import as_date
from pipelines.drift import PROFILE_ARTIFACT, feature_profile
from pipelines.evaluation import (
    binary_metrics,
    calibration_table,
    curves_figures,
    importance_figure,
)
from pipelines.storage import registry
from pipelines.training import model_card
from pipelines.training.config import MIN_FIT_DAYS, Split, TrainingConfig
from pipelines.training.dataset import MIN_FIT_ROWS, Dataset, load_features, require_enough

log = logging.getLogger(__name__)

EXPERIMENT = fd.MODEL_NAME
SUMMARY_ARTIFACT = model_card.TRAINING_SUMMARY_ARTIFACT
# Permutation importance on a sample of the holdout: enough rows for a stable ranking, bounded cost.
IMPORTANCE_ROWS = 5_000
IMPORTANCE_REPEATS = 3


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
    require_enough(train, "search training slice", MIN_FIT_DAYS, MIN_FIT_ROWS)
    require_enough(valid, "validation slice", 1, 100)
    best, best_auc = 0, -1.0
    candidates = sample_candidates(budget)
    for i, params in enumerate(candidates):
        # Children name the experiment: it defaults to the active one, not the parent's.
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"search {i:02d}", nested=True):
            mlflow.set_tag("nightshift.role", "search-trial")
            mlflow.log_params({"trial": i, **params})
            model = fd.build_pipeline(params).fit(train.x, train.y)
            metrics = binary_metrics(valid.y, fd.predict(model, valid.frame))
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
    require_enough(fit, "training slice", MIN_FIT_DAYS, MIN_FIT_ROWS)
    require_enough(holdout, "holdout", max(1, config.holdout_days // 2), 100)

    client = registry.client(tracking_uri)
    experiment_id = registry.ensure_experiment(
        client,
        EXPERIMENT,
        artifact_root if registry.is_local_store(tracking_uri) else None,
        model_card.EXPERIMENT_DESCRIPTION,
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
                "table": tables.FLIGHT_FEATURES.qualified,
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
        profile = feature_profile(fit.frame, fd.NUMERIC, fd.CATEGORICAL)
        mlflow.log_dict(profile, PROFILE_ARTIFACT)
        mlflow.set_tag("nightshift.params_source", source)

        model = fd.build_pipeline(chosen).fit(fit.x, fit.y)
        p_model = fd.predict(model, holdout.frame)
        p_base = fd.baseline_probability(holdout.frame)
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

        # Everything the model card shows, so promotion can redraw it without the data.
        summary = {
            "model_name": fd.MODEL_NAME,
            "as_of": str(as_of_date),
            "holdout": [str(split.holdout.start), str(split.holdout.end)],
            "params": chosen,
            "metrics": metrics.as_dict(),
            "baseline": baseline.as_dict(),
            "mlflow_run_id": run.info.run_id,
            "pipeline_run_id": pipeline_run_id,
            "params_source": source,
            "split": split.as_params(),
            "data": _data_facts(data, fit, holdout),
            "calibration": calibration_table(holdout.y, p_model),
            "top_features": model_card.top_features(importance),
        }
        mlflow.log_dict(summary, SUMMARY_ARTIFACT)
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
        registry.describe_model(client, fd.MODEL_NAME, model_card.MODEL_DESCRIPTION)
        # A card from the start (decision pending): a version never lacks one, even when the
        # promotion task has not run or failed.
        model_card.publish_model_card(client, summary, version)
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


def _data_facts(data: Dataset, fit: Dataset, holdout: Dataset) -> dict[str, Any]:
    """The window's partitions in brief, for the model card (the list: data/partitions.json)."""
    days = [p["dt"] for p in data.partitions]
    return {
        "table": tables.FLIGHT_FEATURES.qualified,
        "partitions": len(days),
        "first_day": str(min(days)) if days else None,
        "last_day": str(max(days)) if days else None,
        "missing_days": [str(d) for d in data.missing_days],
        "fit_days": len(fit.partitions),
        "fit_rows": len(fit.frame),
        "holdout_days": len(holdout.partitions),
        "holdout_rows": len(holdout.frame),
    }


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
