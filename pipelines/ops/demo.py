"""``nightshift demo``: the sample's first weeks through Airflow's real scheduler, start to end.

It starts the api-server, the scheduler and the dag-processor on the embedded default, creates the
runs through the REST API as an operator would from the UI, prints a line per task and per run as
they end, and stops what it started. Every task leaves its log where the UI shows it.

The runs, for the data days ``[start, end)`` (the last one is the schedule window's end):

1. ``flights_daily``: one coarse run over all but the last ``nightly_days`` days (extract and
   validation mapped over chunks, features in one pass), then a backfill of one run per night for
   the last ``nightly_days`` days, as the scheduler would have run them.
2. ``flight_delay_training`` as of ``train_as_of``; the DAG is paused again afterwards, so the
   retraining that a monitoring incident asks for waits for the operator (unpause it in the UI).
3. ``flight_delay_scoring``: one coarse run that scores ``train_as_of`` up to the last data day,
   then the last night's run, which scores the day after it.

A backfill is created paused, before the DAG is unpaused: it holds the window's last day, so the
scheduler's catch-up (which goes forward from the latest scheduled or backfilled run) has nothing
left to add, now or when the DAGs are unpaused later. It starts once the coarse run has built the
history its days read.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipelines.ops.airflow_rest import AirflowApi, AirflowApiError
from pipelines.ops.airflow_runner import DayRun
from pipelines.ops.run_args import UsageError
from pipelines.ops.run_command import report_run
from pipelines.settings import Settings

DAILY = "flights_daily"
TRAINING = "flight_delay_training"
SCORING = "flight_delay_scoring"


@dataclass(frozen=True)
class DemoPlan:
    start: date
    end: date  # the day after the last data day
    nightly_days: int
    train_as_of: date
    train_conf: dict[str, Any]

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def first_nightly(self) -> date:
        return self.end - timedelta(days=self.nightly_days)

    def check(self, settings: Settings) -> None:
        """Refuse a plan the scheduler would turn into something else than asked."""
        if not 1 <= self.nightly_days < (self.end - self.start).days:
            raise UsageError(
                f"--nightly-days {self.nightly_days} must leave days for the coarse run "
                f"({self.start}..{self.last_day})"
            )
        if not self.start < self.train_as_of <= self.last_day:
            raise UsageError(
                f"--train-as-of {self.train_as_of} must fall after {self.start} and on or before "
                f"{self.last_day}"
            )
        if settings.schedule_end != self.last_day or settings.schedule_start > self.first_nightly:
            raise UsageError(
                f"the schedule window ({settings.schedule_start}..{settings.schedule_end}) must "
                f"end on the demo's last day {self.last_day}, or unpausing a DAG would schedule "
                f"days with no data: set NIGHTSHIFT_SCHEDULE_END={self.last_day} (the Makefile "
                "does)"
            )


def _interval(first: date, end: date) -> dict[str, str]:
    return {"start": str(first), "end": str(end)}


def _coarse_then_backfill(
    api: AirflowApi, dag_id: str, coarse: tuple[date, date], nightly: tuple[date, date]
) -> list[DayRun]:
    """One coarse run over ``coarse`` [start, end), then one backfilled run per day of
    ``nightly`` [first, last], in that order."""
    backfill_id, nightly_runs = api.backfill(dag_id, *nightly, paused=True)
    api.wait_until_nothing_scheduled(dag_id)
    api.set_paused(dag_id, False)
    label = f"{coarse[0]}..{coarse[1] - timedelta(days=1)}"
    print(f"{dag_id}: one run over {label}, then {len(nightly_runs)} nightly runs")
    [coarse_run] = api.watch([api.trigger(dag_id, _interval(*coarse), label)], report_run)
    api.resume(backfill_id)
    return [coarse_run, *api.watch(nightly_runs, report_run)]


def run(api: AirflowApi, plan: DemoPlan) -> list[tuple[str, DayRun]]:
    """The demo's runs, in order; each with its DAG id."""
    api.wait_for_dags([DAILY, TRAINING, SCORING])
    done: list[tuple[str, DayRun]] = []
    data = _coarse_then_backfill(
        api, DAILY, (plan.start, plan.first_nightly), (plan.first_nightly, plan.last_day)
    )
    done += [(DAILY, r) for r in data]

    # Weekly training does not catch up (catchup=False): unpausing it plans no run of its own.
    api.wait_until_nothing_scheduled(TRAINING)
    api.set_paused(TRAINING, False)
    conf = {**plan.train_conf, "as_of": str(plan.train_as_of)}
    print(f"{TRAINING}: as of {plan.train_as_of} {plan.train_conf or ''}".rstrip())
    [trained] = api.watch([api.trigger(TRAINING, conf, f"as of {plan.train_as_of}")], report_run)
    api.set_paused(TRAINING, True)
    done.append((TRAINING, trained))

    # The run of day D scores D + 1: the coarse run scores train_as_of..last_day, the last
    # night's run the day after the last data day.
    scored = _coarse_then_backfill(
        api,
        SCORING,
        (plan.train_as_of - timedelta(days=1), plan.last_day),
        (plan.last_day, plan.last_day),
    )
    done += [(SCORING, r) for r in scored]
    return done


def run_demo(settings: Settings, plan: DemoPlan) -> int:
    from pipelines.ops.airflow_env import embedded_airflow_env
    from pipelines.ops.embedded_airflow import AirflowNotReady, running

    plan.check(settings)
    embedded = embedded_airflow_env(settings)
    began = time.monotonic()
    print(f"Airflow: starting api-server, scheduler and dag-processor ({settings.airflow_home})")
    try:
        with running(embedded, settings.airflow_ui_url.rstrip("/")) as airflow:
            print(f"Airflow: ready in {time.monotonic() - began:.0f} s at {airflow.url}")
            logs = Path(airflow.env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"])
            api = AirflowApi(airflow.url, logs, airflow.check_alive, started=began)
            done = run(api, plan)
    except (AirflowNotReady, AirflowApiError) as exc:
        # Airflow itself failed (a process exited, the API refused a call): its own words.
        print(f"demo stopped: {exc}", file=sys.stderr)
        return 1
    failed = [(d, r) for d, r in done if r.state != "success" and not r.alerted]
    alerted = [r.day for _, r in done if r.alerted]
    minutes, seconds = divmod(round(time.monotonic() - began), 60)
    print(f"\ndemo: {len(done)} runs in {minutes} min {seconds:02d} s, {len(failed)} failed")
    if alerted:
        print(
            f"  scoring runs marked by open monitoring incidents: {', '.join(alerted)} "
            f"({TRAINING} is paused: unpause it in the UI to run the retraining they asked for)"
        )
    for dag_id, r in failed:
        print(f"  {dag_id} {r.day} failed: {', '.join(r.failed_tasks)}; log: {r.log_file}")
    return 1 if failed else 0
