"""
### flight_delay_training — weekly retraining with champion/challenger promotion

Runs every Monday at 00:00 UTC, whenever `flight_delay_scoring` raises the model alert (asset
`models.flight_delay_alert`: a monitoring threshold was crossed), and on demand (**Trigger** with
the Params below). A run trains on `features.flight_features` over the trailing `window_days`
that end at `as_of` (exclusive): the `as_of` Param if set, else the alert's `as_of`, else the
run's interval end. The split is by time, never at random: the
last `holdout_days` are the holdout, the `holdout_days` before them the validation slice of the
hyperparameter search, the rest the training slice.

- **`wait_for_features`**: waits (reschedule mode, so it holds no worker slot) until
  `flights_daily` has built the features of the window's last day.
- **`train`**: fits `models/flight_delay` (reviewed `params.json`, or a seeded randomized search of
  `search_budget` trials logged as MLflow child runs), logs the run to MLflow (params, the exact
  partitions used, holdout metrics of the model and of the route-rate baseline, ROC / PR /
  calibration / feature-importance plots, signature, input example), and registers a new version
  of `flight_delay` (skops, reviewed trusted types).
- **`evaluate_and_promote`**: scores the new version and the current `@champion` on the same
  holdout. The alias moves only when the challenger beats the baseline (ROC-AUC and Brier) and
  the champion by `promotion_margin` of ROC-AUC. The decision and its numbers are version tags
  (`promotion.decision`, `promotion.reason`, ...), promoted or not.

#### When it fails
- **wait_for_features** times out — `flights_daily` has not built the last day (blocked by
  validation or still running). Fix that run; then clear this one.
- **train** — `InsufficientTrainingData`: the window has too few feature partitions (the message
  lists missing days). Backfill `flights_daily` or shorten `window_days`.
- **evaluate_and_promote** — safe to clear and rerun: it only re-reads the holdout and the
  registry; a version that is already champion is left as it is.

#### Trigger and backfill
**Trigger** with params: `as_of` (train on the `window_days` before it, exclusive), `window_days`,
`holdout_days`, `search_budget`; the form's fields and bounds come from the training config.
Leave the logical date as it is when `as_of` is set. Weekly runs do not catch up missed weeks
(`catchup=False`): to refit as of past weeks, trigger one run per `as_of`, oldest first (each
compares against the champion the previous one left). A backfill (**Trigger → Backfill**) does
the same for the Mondays in its range, in order (`max_active_runs` is 1).

See every run in MLflow (`make mlflow`, experiment `flight_delay`).
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, Param, dag, task
from common.assets import FLIGHT_FEATURES, MODEL_ALERT, MODEL_REGISTRY
from common.defaults import DEFAULT_ARGS, schedule_start, window_timetable

from pipelines.training.config import PARAMS as TRAINING_PARAMS


@dag(
    dag_id="flight_delay_training",
    # Weekly, and whenever monitoring raises the model alert (the event carries its as_of).
    schedule=AssetOrTimeSchedule(
        timetable=window_timetable("0 0 * * 1", days=7),
        assets=[MODEL_ALERT],
    ),
    # The first weeks have too little history to train on.
    start_date=schedule_start(lead_setting="training_lead_days"),
    # No catch-up: after an outage (or on unpausing) one fit on the latest week is wanted, not
    # one per missed week, each replacing the last.
    catchup=False,
    # Runs compare against the champion: one at a time, in order.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["nightshift", "training", "flights"],
    doc_md=__doc__,
    # The form's fields, defaults and bounds come from the run's own config (one definition).
    params={
        **{
            name: Param(
                spec.default,
                type=spec.json_type,
                minimum=spec.minimum,
                maximum=spec.maximum,
                description=spec.description,
            )
            for name, spec in TRAINING_PARAMS.items()
        },
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Train as of this day (exclusive); default: the run's interval end.",
        ),
    },
)
def flight_delay_training() -> None:
    @task.sensor(poke_interval=600, timeout=12 * 3600, mode="reschedule", inlets=[FLIGHT_FEATURES])
    def wait_for_features(**context) -> bool:
        from pipelines.tasks import training as tasks

        return tasks.features_ready(context)

    # A fit is deterministic; retries only cover infrastructure (MLflow store, disk).
    @task(retries=1, outlets=[MODEL_REGISTRY])
    def train(**context) -> dict:
        from pipelines.tasks import training as tasks

        return tasks.train(context)

    @task(outlets=[MODEL_REGISTRY])
    def evaluate_and_promote(trained: dict, **context) -> dict:
        from pipelines.tasks import training as tasks

        return tasks.evaluate_and_promote(context, trained)

    trained = train()
    wait_for_features() >> trained
    evaluate_and_promote(trained)


flight_delay_training()
