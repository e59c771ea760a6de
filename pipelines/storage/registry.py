"""The MLflow tracking store and model registry, reached only through an explicit URI.

Nothing here relies on MLflow's implicit defaults (a ``mlflow.db`` or ``mlruns`` in whatever the
working directory happens to be): the tracking URI comes from settings, and a local store keeps
its artifacts under the configured artifact root. Pointing ``NIGHTSHIFT_MLFLOW_TRACKING_URI`` at a
tracking server is the only change production needs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from importlib.metadata import version as installed_version
from pathlib import Path

from pipelines.errors import PermanentError

log = logging.getLogger(__name__)

# MLflow 3 sends usage telemetry by default. A batch backend must not phone home (and the test
# machines have no network): off unless the environment explicitly turns it on.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

CHAMPION = "champion"
# Version tags (all strings). `champion_from`/`champion_until` are data dates (the `as_of` of the
# training run that moved the alias), so "which version was champion on day D" has one answer for
# backfills as well as for nightly runs.
TAG_CHAMPION_FROM = "champion_from"
TAG_CHAMPION_UNTIL = "champion_until"
TAG_SUPERSEDED_BY = "superseded_by"
# MLflow's own tags. The experiment kind (a value of the UI's ExperimentKind) declares the
# experiment classic ML (`custom_model_development`), so the UI sends it to its runs instead of
# guessing from what it holds (an experiment with no runs yet passes for GenAI). The note is the
# description the UI shows on an experiment or run page.
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
CLASSIC_ML_KIND = "custom_model_development"
TAG_NOTE = "mlflow.note.content"
# But the UI (3.17) opens the view a browser used last, GenAI in a new one, whatever the
# experiment's kind (checked in headless Chromium): the links we print ask for the classic view.
CLASSIC_VIEW_QUERY = "workflowType=machine_learning"
# The longest description the registry keeps for a model or a version (a VARCHAR(5000) on a
# PostgreSQL backend store, which refuses anything longer).
MAX_DESCRIPTION = 5000


class NoChampionError(PermanentError, LookupError):
    """The registered model has no ``champion`` alias yet."""


def is_local_store(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri


def client(tracking_uri: str):
    """An ``MlflowClient`` on ``tracking_uri`` (also the registry), and the fluent API set to it."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(
    mlflow_client, name: str, artifact_root: Path | None, description: str | None = None
) -> str:
    """The experiment's id, creating it with artifacts under ``artifact_root`` (local stores).

    The experiment is marked as a classic ML one and given ``description`` every time (an
    experiment created before either existed gains them; an unchanged tag is not rewritten).
    """
    wanted = {TAG_EXPERIMENT_KIND: CLASSIC_ML_KIND}
    if description is not None:
        wanted[TAG_NOTE] = description
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if artifact_root is not None:
            artifact_root.mkdir(parents=True, exist_ok=True)
            location = (artifact_root / name).resolve().as_uri()
        return mlflow_client.create_experiment(name, artifact_location=location, tags=wanted)
    for key, value in wanted.items():
        if experiment.tags.get(key) != value:
            mlflow_client.set_experiment_tag(experiment.experiment_id, key, value)
    return experiment.experiment_id


def fit_description(text: str, pointer: str = "") -> str:
    """``text`` cut at a line break to what the registry keeps, then ``pointer`` (where the rest
    is). Unchanged when it fits."""
    if len(text) <= MAX_DESCRIPTION:
        return text
    tail = f"\n\n... (cut to fit the registry) {pointer}".rstrip()
    return text[: text.rfind("\n", 0, MAX_DESCRIPTION - len(tail))] + tail


def describe_model(mlflow_client, model_name: str, description: str) -> None:
    """Set the registered model's description (only when it changed)."""
    description = fit_description(description)
    if (mlflow_client.get_registered_model(model_name).description or "") != description:
        mlflow_client.update_registered_model(model_name, description=description)


def describe_version(
    mlflow_client, model_name: str, version: str, description: str, rest_at: str = ""
) -> None:
    """Set a version's description; ``rest_at`` says where the whole text is if it is cut."""
    text = fit_description(description, rest_at)
    mlflow_client.update_model_version(model_name, version, description=text)


def ui_links(mlflow_client, ui_url: str, model_name: str) -> dict[str, str]:
    """Links into the MLflow UI at ``ui_url``, in its classic ML view: the runs of the experiment
    named after the model (training's), if there is one, and the registered model's versions."""
    base = ui_url.rstrip("/")
    experiment = mlflow_client.get_experiment_by_name(model_name)
    links = {}
    if experiment is not None:
        links["runs"] = f"{base}/#/experiments/{experiment.experiment_id}/runs?{CLASSIC_VIEW_QUERY}"
    links["model"] = f"{base}/#/models/{model_name}?{CLASSIC_VIEW_QUERY}"
    return links


def get_champion(mlflow_client, model_name: str):
    """The ``ModelVersion`` the ``champion`` alias points at, or None when there is none."""
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def require_champion(mlflow_client, model_name: str):
    champion = get_champion(mlflow_client, model_name)
    if champion is None:
        raise NoChampionError(
            f"registered model {model_name!r} has no @{CHAMPION} yet: trigger the "
            "flight_delay_training DAG (Airflow UI: Trigger, or `make demo`) and check in MLflow "
            "that a version was promoted (tag promotion.decision=promoted)"
        )
    return champion


@contextlib.contextmanager
def quiet_skops() -> Iterator[None]:
    """Silence the deprecation warnings skops provokes while (de)serialising in an Airflow worker.

    To find the module of an object without ``__module__``, skops reads that name from every
    loaded module, and each of Airflow's deprecated module aliases warns about it: over a thousand
    log lines per model, none of them about the model.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"skops\.io\._utils")
        yield


def champion_on(mlflow_client, model_name: str, day):
    """The version that was champion on ``day`` (data date), from the ``champion_from`` tags."""
    versions = mlflow_client.search_model_versions(f"name = '{model_name}'")
    day_s = str(day)
    held = [
        v
        for v in versions
        if (v.tags or {}).get(TAG_CHAMPION_FROM, "9999") <= day_s
        and day_s < (v.tags or {}).get(TAG_CHAMPION_UNTIL, "9999")
    ]
    if not held:
        raise NoChampionError(
            f"no version of {model_name!r} was champion on {day_s} (no version has a "
            f"{TAG_CHAMPION_FROM} tag on or before it): score with model_version_policy="
            "'current_champion', or train one as of that date (flight_delay_training, param as_of)"
        )
    return max(held, key=lambda v: ((v.tags or {})[TAG_CHAMPION_FROM], int(v.version)))


def load_sklearn(model_name: str, model_version: str | int):
    """The fitted scikit-learn pipeline of a registered version (skops, reviewed types only)."""
    import mlflow.sklearn

    with quiet_skops():
        return mlflow.sklearn.load_model(f"models:/{model_name}/{model_version}")


def pinned_requirements(*packages: str) -> list[str]:
    """``name==version`` of installed packages: logged with the model instead of MLflow's slow
    inference (which imports the model in a subprocess)."""
    return [f"{p}=={installed_version(p)}" for p in packages]


def move_champion(
    mlflow_client, model_name: str, new_version: str, as_of: str, previous: str | None
) -> None:
    """Point ``champion`` at ``new_version``, then tag both ends of the hand-over (idempotent)."""
    mlflow_client.set_registered_model_alias(model_name, CHAMPION, new_version)
    mlflow_client.set_model_version_tag(model_name, new_version, TAG_CHAMPION_FROM, as_of)
    if previous is not None and str(previous) != str(new_version):
        mlflow_client.set_model_version_tag(model_name, previous, TAG_CHAMPION_UNTIL, as_of)
        mlflow_client.set_model_version_tag(model_name, previous, TAG_SUPERSEDED_BY, new_version)


def versions_table(mlflow_client, model_name: str) -> list[tuple[str, ...]]:
    """One row per registered version, newest first: what the demo and `nightshift models` show."""
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow_client.get_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return []
        raise
    aliases: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    rows: list[tuple[str, ...]] = []
    versions = mlflow_client.search_model_versions(f"name = '{model_name}'")
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        tags = mv.tags or {}
        rows.append(
            (
                mv.version,
                ",".join(sorted(aliases.get(str(mv.version), []))) or "-",
                tags.get("data.as_of", "?"),
                _rounded(tags.get("promotion.challenger_roc_auc", tags.get("holdout_roc_auc"))),
                _rounded(tags.get("promotion.baseline_roc_auc", tags.get("baseline_roc_auc"))),
                _rounded(tags.get("promotion.champion_roc_auc"), missing="-"),
                _rounded(tags.get("promotion.challenger_brier")),
                _rounded(tags.get("promotion.baseline_brier")),
                tags.get("promotion.decision", "undecided"),
                tags.get("promotion.reason", ""),
            )
        )
    return rows


def _rounded(tag: str | None, missing: str = "?") -> str:
    """A metric tag (``0.123456``) rounded to 4 decimals for a table; ``none``/absent as such."""
    if tag is None:
        return missing
    try:
        return f"{float(tag):.4f}"
    except ValueError:
        return "-" if tag == "none" else tag


VERSIONS_HEADER = (
    "version",
    "alias",
    "as_of",
    "roc_auc",
    "baseline",
    "champion",
    "brier",
    "base_brier",
    "decision",
    "reason",
)
