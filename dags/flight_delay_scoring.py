"""
### flight_delay_scoring — score tomorrow's flights, publish them, monitor yesterday's predictions

Runs at midnight UTC beside `flights_daily`, with the same interval: the run at D+1 00:00 covers
day **D**. It scores the flights of **D+1** with the model that is `@champion` in MLflow, and
measures how the predictions made for **D** did now that D's outcomes are in.

- **`extract_next_day` → `validate_next_day`**: the next-day feeds of D+1 (the published
  schedule, planned flights only, and the weather forecast) from the configured source into
  `raw.schedule` / `raw.weather_forecast`, checked by Great Expectations (evidence in
  `quality.next_day_validation_results` and `quarantine.*`).
- **`wait_for_features`**: waits (reschedule mode) for `flights_daily` to build day D's features.
- **`score_next_day`**: features of D+1 from what was known on the evening of D (same SQL as
  training), scored by the champion → `scores.flight_delay_predictions` dt=D+1, every row stamped
  with model name, version, MLflow run id and pipeline run id. Param `model_version_policy`:
  `current_champion` (default) or `champion_on_date` (the version that was champion on the
  scored day, from the registry's `champion_from`/`champion_until` tags: for faithful backfills).
- **`publish_predictions`**: when `NIGHTSHIFT_PUBLISH_DSN` is set, upserts the day into the
  application's PostgreSQL table in one transaction (otherwise a no-op that says so).
- **`monitor`**: realized ROC-AUC, Brier, calibration by band and by origin, carrier and hour
  of the predictions for D (`monitoring.model_performance_daily`,
  `monitoring.calibration_by_band_daily`, `monitoring.performance_by_slice_daily`), drift of
  D's features against the champion's training profile, each feature measured as its kind
  calls for (`monitoring.feature_drift_daily`), and the HTML report
  `data/reports/monitoring/<D>.html` with an `index.html` of every day. Each crossed
  threshold is a finding (`monitoring.findings_daily`); findings fold into incidents
  (`monitoring.alerts`, one row per incident: opened, last seen, resolved, kind, subject,
  severity, evidence). The report opens with the verdict: OK, DEGRADED or BROKEN.
- **`notify_incidents`**: one webhook POST (`NIGHTSHIFT_ALERT_WEBHOOK_URL`) and email
  (`NIGHTSHIFT_ALERT_EMAIL_TO`, SMTP connection `smtp_default`) per incident change: opened,
  escalated, resolved. Never one per night an incident stays open.
- **`raise_alert`**: **fails (red, no retry) while an incident is open**, its message naming
  each one, so the run shows red in the grid; skipped when nothing is open. When it is the
  only red task, scoring and publishing succeeded: the predictions are out.
- **`request_retraining`**: emits the `models.flight_delay_alert` asset event (which schedules
  `flight_delay_training`) once per incident whose remedy is retraining, at most once a week
  (`NIGHTSHIFT_MONITOR_RETRAIN_COOLDOWN_DAYS`). A broken feed never retrains: fix the feed.
  A rerun of an earlier day announces and requests nothing again.
- **`refresh_warehouse`**: the analysts' catalog, whatever happened above.

#### When it fails
- **score_next_day** — `NoChampionError`: no model is `@champion` yet. Trigger
  `flight_delay_training` (or run `make demo`), check `nightshift models`, then clear this task.
  `ScoringInputMissing`: a feed of D+1 or the actuals of D are not published yet; it retries,
  and if the upstream task failed, fix that one first.
- **validate_next_day** — the published schedule or forecast broke a critical check: the log names
  table, date, check and counts. Tomorrow's flights are not scored until the feed is fixed and the
  task cleared; `flights_daily` is not affected.
- **publish_predictions** — the application database is unreachable: it retries; the lake
  partition is already written, so nothing is lost.
- **monitor** — needs day D's features; it runs even when scoring failed (`all_done`). After
  re-scoring a day X (clearing an earlier run), also clear `monitor` of the run for X, which
  measured X before it had predictions.
- **raise_alert** red — not a pipeline fault: an incident is open. Its log line names each
  incident; open the report (`data/reports/monitoring/index.html`) or
  `select * from monitoring.alerts where status = 'open'`. A broken feed (severity critical,
  remedy "fix the feed") needs the feed fixed and the days rerun; a performance or drift
  incident has requested retraining. The incident resolves by itself after
  `NIGHTSHIFT_MONITOR_RESOLVE_AFTER_DAYS` quiet days.
- **notify_incidents** — the webhook could not be reached: it retries. HTTP 4xx: the URL or
  payload is wrong (`WebhookRejected`, no retry); fix the setting and clear the task.

#### Rerun and backfill
Every task replaces its own partitions (and the published day, in one transaction). As for
`flights_daily`, the UI's dates are firing times: the run of day D fires at D+1 00:00 and scores
D+1.
1. **One day**: **Trigger**, **Logical date** = midnight after D, **Trigger**.
2. **One run per day**: **Trigger → Backfill**, **From**/**To** = the day after the first and
   the last day D, **Reprocess behaviour** `Missing Runs` or `All Runs`, **Max active runs** `1`
   (each day's monitoring folds the incidents of the days before it), **Run backfill**; or
   `airflow backfill create --dag-id flight_delay_scoring --from-date ... --to-date ...`.
3. **One run over a range**: **Trigger** with params `{"start": ..., "end": ...}` (run days,
   end exclusive).
Backfilled days are scored by today's champion unless `model_version_policy` is
`champion_on_date`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from common.assets import (
    FLIGHT_FEATURES,
    MODEL_ALERT,
    MODEL_REGISTRY,
    MONITORING,
    NEXT_DAY_RAW,
    NEXT_DAY_VALIDATION,
    PREDICTIONS,
    WAREHOUSE,
)
from common.defaults import (
    DEFAULT_ARGS,
    history_params,
    interval_params,
    schedule_start,
    window_timetable,
)


@dag(
    dag_id="flight_delay_scoring",
    schedule=window_timetable("0 0 * * *", days=1),
    # Starts a week after the first weekly training run could have promoted a champion.
    start_date=schedule_start(lead_setting="scoring_lead_days"),
    catchup=True,
    # One at a time, in order: the run for D monitors what the run for D-1 scored.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["nightshift", "scoring", "monitoring", "flights"],
    doc_md=__doc__,
    params={
        **interval_params(),
        **history_params(),
        "model_version_policy": Param(
            "current_champion",
            enum=["current_champion", "champion_on_date"],
            description="Score with today's champion, or the one that was champion on the day.",
        ),
    },
)
def flight_delay_scoring() -> None:
    @task(retries=3, retry_delay=timedelta(minutes=10))
    def extract_next_day(**context) -> dict:
        from pipelines.tasks import scoring as tasks

        return tasks.extract_next_day(context)

    @task(retries=0, outlets=[*NEXT_DAY_RAW, *NEXT_DAY_VALIDATION])
    def validate_next_day(**context) -> dict:
        from pipelines.tasks import scoring as tasks

        return tasks.validate_next_day(context)

    @task.sensor(poke_interval=300, timeout=6 * 3600, mode="reschedule", inlets=[FLIGHT_FEATURES])
    def wait_for_features(**context) -> bool:
        from pipelines.tasks import scoring as tasks

        return tasks.day_features_ready(context)

    @task(inlets=[MODEL_REGISTRY], outlets=[PREDICTIONS])
    def score_next_day(**context) -> dict:
        from pipelines.tasks import scoring as tasks

        return tasks.score_next_day(context)

    @task(retries=3, retry_delay=timedelta(minutes=5))
    def publish_predictions(**context) -> dict:
        from pipelines.tasks import scoring as tasks

        return tasks.publish_predictions(context)

    @task(trigger_rule="all_done", outlets=MONITORING)
    def monitor(**context) -> dict:
        from pipelines.tasks import scoring as tasks

        return tasks.monitor(context)

    # Announces each incident change once (opened, escalated, resolved); a webhook that cannot
    # be reached is retried, one that refuses the payload is not.
    @task(retries=3, retry_delay=timedelta(minutes=2))
    def notify_incidents(monitored: dict, **context) -> int:
        from pipelines.tasks import scoring as tasks

        return tasks.notify_incidents(context, monitored)

    # Marks the run: red while an incident is open, so the grid shows it without opening a log.
    @task(retries=0)
    def raise_alert(monitored: dict) -> None:
        from pipelines.tasks import scoring as tasks

        message = tasks.open_incidents_message(monitored)
        if message is None:
            raise AirflowSkipException("no open incident")
        raise AirflowFailException(message)

    @task(outlets=[MODEL_ALERT])
    def request_retraining(monitored: dict, **context) -> dict:
        from pipelines.tasks import scoring as tasks

        request = tasks.retraining_request(context, monitored)
        if request is None:
            raise AirflowSkipException("no new incident asks for retraining")
        context["outlet_events"][MODEL_ALERT].extra = request
        return request

    @task(trigger_rule="all_done", outlets=[WAREHOUSE])
    def refresh_warehouse(**context) -> dict:
        from pipelines.tasks import common

        return common.refresh_warehouse(context)

    # monitor and refresh_warehouse run even after a failure (all_done), so as leaves they would
    # make the run look successful: this watcher fails the run whenever any task failed.
    @task(trigger_rule="one_failed", retries=0)
    def fail_run_if_a_task_failed() -> None:
        raise AirflowFailException("a task of this run failed: see the red task's log")

    extracted = extract_next_day()
    validated = validate_next_day()
    waited = wait_for_features()
    scored = score_next_day()
    extracted >> validated >> scored
    waited >> scored
    published = publish_predictions()
    scored >> published
    monitored = monitor()
    scored >> monitored
    waited >> monitored  # after the wait for the day's features (a timeout fails monitor too)
    notified = notify_incidents(monitored)
    raise_alert(monitored)  # a leaf: when it fails, the run is failed
    retraining = request_retraining(monitored)
    refreshed = refresh_warehouse()
    [published, monitored] >> refreshed
    upstream = [extracted, validated, waited, scored, published, monitored, notified]
    [*upstream, retraining, refreshed] >> fail_run_if_a_task_failed()


flight_delay_scoring()
