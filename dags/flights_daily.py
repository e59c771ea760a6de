"""
### flights_daily — the nightly data path: extract → validate → features → warehouse

Runs at midnight UTC for the day that just ended: the run firing at D+1 00:00 has data interval
`[D, D+1)` and processes day **D** (its logical date is D; a manual run for D+1 00:00 has the same
interval). Each task handles every day of its interval,
so the same DAG serves a nightly run (one day) and a coarse backfill (set the `start`/`end`
params to cover a month).

- **`plan_chunks`**: splits the run's days into chunks of `NIGHTSHIFT_INGEST_CHUNK_DAYS`
  (default 31). A nightly run is one chunk of one day; a coarse run over a year is twelve, and
  `extract` and `validate_and_publish` run once per chunk (mapped tasks, labelled by their days),
  in parallel on as many workers as the executor has.
- **`extract`**: copies day D of every source table (flights, weather, reference snapshots)
  from the configured source (`NIGHTSHIFT_SOURCE_KIND`: landing files or PostgreSQL) to
  `incoming.*`.
- **`validate_and_publish`**: runs the Great Expectations suites, records every check in
  `quality.validation_results`, quarantines offending rows in `quarantine.*`, and publishes the day
  to `raw.*` only if no critical check failed.
- **`build_features`**: waits for every chunk, then builds leak-free features of day D in DuckDB SQL
  (`sql/features/flight_features.sql`) to `features.flight_features`.
- **`refresh_warehouse`**: rebuilds the analysts' views-only `warehouse.duckdb` and swaps it in
  atomically.

#### When it fails
- **extract** — the source has not published day D yet (`SourceDataMissing`: no landing file, or
  no rows in PostgreSQL) or is unreachable. It retries with backoff; if upstream is late for good,
  rerun the task once the data is there.
- **validate_and_publish** — a critical check failed. The log names the table, date, check and
  counts. Nothing downstream ran for that day and earlier `raw` partitions are untouched. Look at
  the evidence:
  `nightshift query "select * from quality.validation_results where dt = 'D' and not success"`
  (every earlier attempt is in `quality.validation_history`) and `quarantine.<table>` (rows that
  broke a row-level check; a schema or row-count failure leaves the whole day in
  `incoming.<table>`, which `nightshift query` does not expose: read it with
  `lake.read_partition(lake_root, "incoming", table, day)` from Python). A file that could not
  be read at all fails `schema.readable` with the parser's message, line and column, and is
  kept byte for byte under `<lake>/quarantine/_files/<table>/dt=D/`. Fix the source, then
  **Clear** `extract` and the tasks after it (extract reads the source again). This task does
  not retry: the same data fails the same way.
- **build_features** — refuses a day whose 28-day history has a missing or blocked day
  (`HistoryBlocked`: fails at once and names the days; `HistoryNotPublished`: an earlier day is
  not published yet, so it retries, as in a backfill whose earlier runs are still going). Fix
  those days first. If a day is lost for good, trigger with `{"allow_incomplete_history": true}`:
  the features are built and every row says how many days were missing
  (`history_missing_days`). After correcting a day X that was already published, also rebuild the
  features that read it: one run with params `{"start": X, "end": X+29}`.

#### Rerun and backfill
Every task replaces its own partitions, so a rerun never duplicates rows. The dates the UI asks
for are firing times, one day after the day processed.
1. **One day**: **Trigger**, **Logical date** = midnight after the day (day 2013-03-10:
   `2013-03-11 00:00`), params empty, **Trigger**. (The default logical date, now, lies after
   the schedule window: the run reprocesses the window's last day.)
2. **One run per day**: **Trigger → Backfill**, **From** = the day after the first day, **To** =
   the day after the last (February: `2013-02-02` to `2013-03-01`), **Reprocess behaviour**
   `Missing Runs` (days with no run yet) or `All Runs` (redo them), **Max active runs** `1`
   (each day's features read the days before it), **Run backfill**. The CLI's equivalent:
   `airflow backfill create --dag-id flights_daily --from-date 2013-02-02 --to-date 2013-03-01
   --reprocess-behavior completed --max-active-runs 1`.
3. **One run over a range**: **Trigger** with params `start`/`end` (`2013-02-01`, `2013-03-01`,
   end exclusive); extract and validation map over chunks, features build in one pass.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task, task_group
from common.assets import (
    FLIGHT_FEATURES,
    QUARANTINE,
    RAW,
    VALIDATION_HISTORY,
    VALIDATION_RESULTS,
    WAREHOUSE,
)
from common.defaults import (
    DEFAULT_ARGS,
    history_params,
    interval_params,
    schedule_start,
    window_timetable,
)

# A mapped task's label in the grid: its chunk of days (set by the task in its context).
CHUNK_LABEL = "{{ chunk_label | default('') }}"


@dag(
    dag_id="flights_daily",
    # A bare cron string gives a zero-length interval in Airflow 3. This one fires at midnight
    # with interval [D, D+1): scheduled, backfilled and manual runs at D+1 all process day D.
    schedule=window_timetable("0 0 * * *", days=1),
    start_date=schedule_start(),
    catchup=True,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["nightshift", "data-path", "flights"],
    doc_md=__doc__,
    params={
        **interval_params(),
        **history_params(),
    },
)
def flights_daily() -> None:
    # Deterministic (the run's interval in chunks): nothing to retry.
    @task(retries=0)
    def plan_chunks(**context) -> list[dict]:
        from pipelines.tasks import flights_daily as tasks

        return tasks.plan_chunks(context)

    @task(retries=3, retry_delay=timedelta(minutes=10), map_index_template=CHUNK_LABEL)
    def extract(chunk: dict, **context) -> dict:
        from pipelines.tasks import flights_daily as tasks

        get_current_context()["chunk_label"] = tasks.chunk_label(chunk)
        return tasks.extract(context, chunk)

    # Validation is deterministic: retrying the same data cannot help.
    @task(
        retries=0,
        outlets=[*RAW, *QUARANTINE, VALIDATION_RESULTS, VALIDATION_HISTORY],
        map_index_template=CHUNK_LABEL,
    )
    def validate_and_publish(chunk: dict, **context) -> dict:
        from pipelines.tasks import flights_daily as tasks

        get_current_context()["chunk_label"] = tasks.chunk_label(chunk)
        return tasks.validate_and_publish(context, chunk)

    # One extract and one validation per chunk of days, run in parallel by the workers (a nightly
    # run is one chunk); the group adds no prefix, so the task ids stay as the runbooks name them.
    @task_group(group_id="ingest", prefix_group_id=False)
    def ingest(chunk: dict) -> None:
        extract(chunk) >> validate_and_publish(chunk)

    # No depends_on_past: the stage itself refuses a day whose history is incomplete, however
    # the run was started (and the UI's Backfill dialog works with its defaults).
    @task(outlets=[FLIGHT_FEATURES])
    def build_features(**context) -> dict:
        from pipelines.tasks import flights_daily as tasks

        return tasks.build_features(context)

    @task(outlets=[WAREHOUSE])
    def refresh_warehouse(**context) -> dict:
        from pipelines.tasks import common

        return common.refresh_warehouse(context)

    ingest.expand(chunk=plan_chunks()) >> build_features() >> refresh_warehouse()


flights_daily()
