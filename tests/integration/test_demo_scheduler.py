"""``nightshift demo`` through Airflow's real scheduler, on a short window of real days.

What an operator relies on after ``make demo``: every task has its log file and the UI serves it,
every run lasted what it really took (not the 2013 logical date's distance from today), a line per
task and per run was printed, and nothing is left for the scheduler to catch up when the DAGs are
unpaused. The demo runs as a new user's command would: a subprocess with a clean environment.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pipelines.ops.airflow_env import embedded_airflow_env
from pipelines.ops.embedded_airflow import running
from pipelines.settings import Settings
from tests.topology.topology import free_ports

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
# 23 days of flights: a coarse run over 21, two nightly runs; training as of 01-22 on 20 days;
# scoring of 01-22..01-24 (a coarse run of two days, then the last night's run).
START, END, LAST = "2013-01-01", "2013-01-24", "2013-01-23"
DEMO = ["--start", START, "--end", END, "--nightly-days", "2", "--train-as-of", "2013-01-22"]
TRAIN_CONF = '{"window_days": 20, "holdout_days": 3}'


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("demo")
    api_port, log_port, trigger_port = free_ports(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NIGHTSHIFT_"))}
    env.update(
        {
            "NIGHTSHIFT_HOME": str(home),
            "NIGHTSHIFT_SCHEDULE_END": LAST,
            # Training and scoring schedules start at once (the window is three weeks).
            "NIGHTSHIFT_TRAINING_LEAD_DAYS": "0",
            "NIGHTSHIFT_SCORING_LEAD_DAYS": "0",
            "NIGHTSHIFT_AIRFLOW_UI_URL": f"http://localhost:{api_port}",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_port),
        }
    )
    cli = str(BIN / "nightshift")
    subprocess.run(
        [cli, "generate-landing", "--start", START, "--end", END], env=env, check=True, timeout=120
    )
    began = datetime.now(UTC)
    done = subprocess.run(
        [cli, "demo", *DEMO, "--train-conf", TRAIN_CONF],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    ended = datetime.now(UTC)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home, env, done.stdout, began, ended


def _metadata(home: Path, query: str) -> list[tuple]:
    with sqlite3.connect(home / "data" / "airflow" / "airflow.db") as db:
        return db.execute(query).fetchall()


def test_every_task_has_its_log_file(demo) -> None:
    home, _, _, _, _ = demo
    logs = home / "data" / "airflow" / "logs"
    tasks = _metadata(
        home,
        "select dag_id, run_id, task_id, map_index, try_number, state from task_instance "
        "where state in ('success', 'failed')",
    )
    dags = {"flights_daily", "flight_delay_training", "flight_delay_scoring"}
    assert {t[0] for t in tasks} == dags
    for dag_id, run_id, task_id, map_index, try_number, _ in tasks:
        path = logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            path = path / f"map_index={map_index}"
        path = path / f"attempt={try_number}.log"
        assert path.is_file() and path.stat().st_size > 0, path


def test_runs_last_what_they_really_took(demo) -> None:
    home, _, _, began, ended = demo
    runs = _metadata(home, "select dag_id, run_id, start_date, end_date, state from dag_run")
    assert len(runs) == 6  # 3 flights_daily, 1 training, 2 scoring (see DEMO)
    for dag_id, run_id, start, end, state in runs:
        started = datetime.fromisoformat(start).replace(tzinfo=UTC)
        finished = datetime.fromisoformat(end).replace(tzinfo=UTC)
        assert began <= started <= finished <= ended, (dag_id, run_id, start, end)
        assert state in ("success", "failed"), (dag_id, run_id, state)


def test_progress_is_printed_per_task_and_per_run(demo) -> None:
    _, _, out, _, _ = demo
    assert "flights_daily 2013-01-23: success in" in out
    assert "flights_daily 2013-01-01..2013-01-21: success in" in out
    assert "flight_delay_training as of 2013-01-22: success in" in out
    # One line per task as it ends, with the time since the command began.
    assert "flights_daily 2013-01-22: validate_and_publish [2013-01-22] success in" in out
    assert "flight_delay_training as of 2013-01-22: train success in" in out
    assert "demo: 6 runs in" in out
    # Library noise stays in the task logs.
    assert "Skipping registering function" not in out


def test_nothing_is_left_to_catch_up_and_the_ui_serves_the_logs(demo) -> None:
    home, env, _, _, _ = demo
    settings = Settings(_env_file=None, home=home, airflow_home=home / "data" / "airflow")
    url = env["NIGHTSHIFT_AIRFLOW_UI_URL"]
    with running(embedded_airflow_env(settings), url, ("api-server",), base_env=env):
        token = httpx.get(f"{url}/auth/token", timeout=30).json()["access_token"]
        api = httpx.Client(
            base_url=f"{url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        # Unpausing any DAG now schedules nothing: the window's days all have their runs.
        for dag_id in ("flights_daily", "flight_delay_scoring", "flight_delay_training"):
            dag = api.get(f"/dags/{dag_id}").json()
            assert dag["next_dagrun_logical_date"] is None, dag
        # The Backfill dialog's defaults (reprocess "Missing Runs"): the days the coarse run
        # covered have no run of their own, so it would create one per day.
        dry = api.post(
            "/backfills/dry_run",
            json={
                "dag_id": "flights_daily",
                "from_date": "2013-01-03T00:00:00Z",
                "to_date": "2013-01-06T00:00:00Z",
                "reprocess_behavior": "none",
                "max_active_runs": 10,
                "run_backwards": False,
                "dag_run_conf": {},
            },
        )
        assert dry.status_code == 200, dry.text[:500]
        assert dry.json()["total_entries"] == 4, dry.text[:500]
        # The Trigger form's default logical date, now, lies after the window: the run reruns
        # the window's last day (the plugin's timetable, loaded by the API server), with tasks.
        r = api.post(
            "/dags/flights_daily/dagRuns",
            json={"logical_date": datetime.now(UTC).isoformat(), "conf": {}},
        )
        assert r.status_code == 200, r.text[:500]
        manual = r.json()
        assert manual["data_interval_start"].startswith(f"{LAST}T00:00:00"), manual
        assert manual["data_interval_end"].startswith(f"{END}T00:00:00"), manual
        tis = api.get(f"/dags/flights_daily/dagRuns/{manual['dag_run_id']}/taskInstances")
        assert tis.json()["total_entries"] > 0, tis.text[:500]
        run_id = f"backfill__{END}T00:00:00+00:00"
        task = f"/dags/flights_daily/dagRuns/{run_id}/taskInstances/build_features"
        r = api.get(f"{task}/logs/1", headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text[:500]
        assert "2013-01-23" in r.text, r.text[:2000]
