"""The production topology on this machine, driven through the Airflow REST API.

PostgreSQL (Airflow metadata, MLflow backend store, application database), Redis (Celery broker),
``api-server``, ``scheduler``, ``dag-processor``, ``triggerer``, a Celery worker and an MLflow
server run as local processes with the settings of ``pipelines.topology`` (the same ones
``docker-compose.yml`` uses). Through the REST API, authenticated with a JWT: unpause the DAGs,
backfill five days of ``flights_daily``, train, score; then compare with the same five days run on
the embedded default. Every process started is stopped by process group, also on failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import models.flight_delay as fd
from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest.sources.files import generate_landing
from pipelines.storage import lake, registry
from tests.fixtures import real_lake
from tests.topology.cluster import Api, running

pytestmark = pytest.mark.integration

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
HISTORY = Interval.of("2013-02-04", "2013-02-19")  # built with the stage functions
# Six days through the REST API. The last one is also the logical date of the schedule window's
# first firing (02-25): created before unpausing, the backfill run holds that date, so the
# scheduler does not add an empty run of its own for it.
BACKFILL = Interval.of("2013-02-19", "2013-02-25")
AS_OF = date(2013, 2, 25)  # training as of 2013-02-25, scoring of 2013-02-25
COMPARED = [("raw", t) for t in ("flights", "weather")] + [
    ("quality", "validation_results"),
    ("features", "flight_features"),
]
# The cluster's settings beyond the topology: a one-day schedule window (2013-02-25) so that
# unpausing does not catch up a year, no lead for training and scoring (manual runs must fall in
# the window to get tasks), and thresholds no real day crosses (an alert would start training).
LAST_DAY = date(2013, 2, 25)
CLUSTER_SETTINGS = {
    "NIGHTSHIFT_SCHEDULE_START": str(LAST_DAY),
    "NIGHTSHIFT_SCHEDULE_END": str(LAST_DAY),
    "NIGHTSHIFT_TRAINING_LEAD_DAYS": "0",
    "NIGHTSHIFT_SCORING_LEAD_DAYS": "0",
    "NIGHTSHIFT_MONITOR_MAX_PSI": "1000",
    "NIGHTSHIFT_MONITOR_MAX_MISSING_INCREASE": "1",
    "NIGHTSHIFT_MONITOR_MIN_ROC_AUC": "0",
    "NIGHTSHIFT_MONITOR_MAX_BRIER": "1",
    # The coarse rerun of the backfill's six days fans out into two chunks of three.
    "NIGHTSHIFT_INGEST_CHUNK_DAYS": "3",
}


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


# The volume rule compares a day with the days published when it ran: a parallel backfill and a
# day-by-day run see different recent days, so its observed median may differ (not its verdict).
RELATIVE_CHECKS = ("rows.vs_recent",)


def _rows(root: Path, layer: str, table: str, day: date):
    data = lake.read_partition(root, layer, table, day).drop_columns([lake.RUN_ID_COLUMN])
    if "check_name" in data.column_names:
        relative = pc.is_in(data["check_name"], pa.array(RELATIVE_CHECKS))
        assert pc.all(data.filter(relative)["success"]).as_py(), (layer, table, day)
        data = data.filter(pc.invert(relative))
    return data.sort_by([(c, "ascending") for c in data.column_names if c != "unexpected_sample"])


def _check_predictions_api(cluster, root: Path, predictions: pa.Table, champion) -> None:
    """The predictions API on the application database, keys on: a lookup, an on-demand score
    of a published flight (the batch's probability), and an anonymous caller refused."""
    url, keys = cluster.predictions_url, {"X-API-Key": cluster.api_key}
    deadline = time.monotonic() + 120
    while httpx.get(f"{url}/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, cluster.log_tail("api")
        time.sleep(1)
    assert httpx.get(f"{url}/readyz", timeout=10).json()["store"] == "postgres"
    row = predictions.to_pylist()[0]
    path = f"/v1/flights/{AS_OF}/{row['carrier']}/{row['flight_number']}"
    found = httpx.get(url + path, params={"origin": row["origin"]}, headers=keys, timeout=30)
    assert found.status_code == 200, found.text
    assert found.json()["probability"] == pytest.approx(row["probability"], abs=1e-12)
    assert found.json()["model_version"] == str(champion.version)
    schedule = lake.read_partition(root, *tables.raw("schedule").address, AS_OF).to_pylist()
    [planned] = [
        s
        for s in schedule
        if (s["carrier"], s["flight"], s["origin"])
        == (row["carrier"], row["flight_number"], row["origin"])
    ]
    body = {
        "flight_date": str(AS_OF),
        "carrier": planned["carrier"],
        "flight_number": planned["flight"],
        "origin": planned["origin"],
        "dest": planned["dest"],
        "sched_dep_time": "{:02d}:{:02d}".format(*divmod(planned["sched_dep_time"], 100)),
        "sched_arr_time": "{:02d}:{:02d}".format(*divmod(planned["sched_arr_time"], 100)),
        "distance_miles": planned["distance"],
        **({"tailnum": planned["tailnum"]} if planned["tailnum"] else {}),
    }
    scored = httpx.post(f"{url}/v1/score", json=body, headers=keys, timeout=60)
    assert scored.status_code == 200, scored.text
    assert scored.json()["probability"] == pytest.approx(row["probability"], abs=1e-12)
    assert scored.json()["model_version"] == str(champion.version)
    refused = httpx.get(f"{url}/v1/flights", params={"date": str(AS_OF)}, timeout=30)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("topology")
    data = home / "data"
    real_lake.build(data / "lake", data / "landing", SQL_ROOT, HISTORY)
    # The backfill's days and the scheduled run's day (2013-02-25) with its next-day feeds.
    generate_landing(data / "landing", Interval(BACKFILL.start, LAST_DAY + timedelta(days=1)))
    shutil.copytree(data, home / "embedded-data")  # the embedded default starts from the same lake
    return home


def test_backfill_train_and_score_through_the_rest_api(home: Path) -> None:
    with running(home, CLUSTER_SETTINGS) as cluster:
        api = Api(cluster)
        api.wait_for_dags({"flights_daily", "flight_delay_training", "flight_delay_scoring"})
        # The backfill first, then unpause: the window's scheduled run (2013-02-25) follows.
        backfill = api.call(
            "POST",
            "/backfills",
            json={
                "dag_id": "flights_daily",
                "from_date": _iso(BACKFILL.start + timedelta(days=1)),
                "to_date": _iso(BACKFILL.end),
                # depends_on_past DAGs must say what to do with existing runs.
                "reprocess_behavior": "completed",
                "max_active_runs": 2,
                "run_backwards": False,
                "dag_run_conf": {},
            },
        )
        assert backfill["dag_id"] == "flights_daily"
        for dag_id in ("flights_daily", "flight_delay_training"):
            api.unpause(dag_id)
        # Six backfill runs and the scheduled run of 2013-02-25.
        runs = api.wait("flights_daily", 7, cluster, timeout=1200)
        assert {r["state"] for r in runs} == {"success"}, runs
        backfilled = {r["logical_date"][:10] for r in runs if r["run_type"] == "backfill"}
        # A scheduled or backfilled run's logical date is the day it processes.
        assert backfilled == {str(d) for d in BACKFILL.days()}

        # One coarse run over the same six days: extract and validation map over two chunks,
        # which the Celery worker (concurrency 2) runs side by side; features then fan in.
        coarse = api.call(
            "POST",
            "/dags/flights_daily/dagRuns",
            json={
                "logical_date": None,
                "conf": {"start": str(BACKFILL.start), "end": str(BACKFILL.end)},
            },
        )
        runs = api.wait("flights_daily", 8, cluster, 900, coarse["dag_run_id"])
        [rerun] = [r for r in runs if r["dag_run_id"] == coarse["dag_run_id"]]
        assert rerun["state"] == "success", cluster.log_tail("worker", 80)
        instances = api.call(
            "GET", f"/dags/flights_daily/dagRuns/{coarse['dag_run_id']}/taskInstances"
        )["task_instances"]
        mapped = sorted(
            (t["task_id"], t["map_index"], t["rendered_map_index"], t["state"])
            for t in instances
            if t["task_id"] in ("extract", "validate_and_publish")
        )
        assert mapped == [
            (task_id, index, label, "success")
            for task_id in ("extract", "validate_and_publish")
            for index, label in enumerate(("2013-02-19..2013-02-21", "2013-02-22..2013-02-24"))
        ], mapped

        triggered = api.call(
            "POST",
            "/dags/flight_delay_training/dagRuns",
            json={"logical_date": _iso(AS_OF), "conf": {"window_days": 21, "holdout_days": 3}},
        )
        runs = api.wait("flight_delay_training", 1, cluster, 900, triggered["dag_run_id"])
        [trained] = [r for r in runs if r["dag_run_id"] == triggered["dag_run_id"]]
        assert trained["state"] == "success", cluster.log_tail("worker", 80)

        api.unpause("flight_delay_scoring")
        triggered = api.call(
            "POST",
            "/dags/flight_delay_scoring/dagRuns",
            json={"logical_date": _iso(AS_OF), "conf": {}},
        )
        scored = api.wait("flight_delay_scoring", 1, cluster, 900, triggered["dag_run_id"])
        ours = [r for r in scored if r["dag_run_id"] == triggered["dag_run_id"]]
        # Failed only if monitoring marked it (raise_alert red while an incident is open).
        assert [r["state"] for r in ours] in (["success"], ["failed"]), scored
        # Every task of our runs ran (a run outside the DAG's dates would be empty and green).
        # Skipped by design: no incident open or asking for retraining, and the watcher of a
        # run where nothing failed.
        wanted_of = {
            "raise_alert": {"skipped", "failed"},
            "request_retraining": {"success", "skipped"},
            "fail_run_if_a_task_failed": {"skipped"},
        }
        for dag_id, run in (("flight_delay_training", trained), ("flight_delay_scoring", ours[0])):
            tasks = api.call("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")
            states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
            assert states, f"{dag_id}: the run has no tasks"
            for task_id, state in states.items():
                wanted = wanted_of.get(task_id, {"success"})
                assert state in wanted, (dag_id, task_id, state)
            if run["state"] == "failed":
                assert states["raise_alert"] == "failed", states

        # Outputs: partitions, validation evidence, the registered champion, stamped predictions.
        root = home / "data" / "lake"
        for day in BACKFILL.days():
            for layer, table in COMPARED:
                assert lake.has_partition(root, layer, table, day), (layer, table, day)
        client = registry.client(cluster.topology.mlflow_url)
        champion = registry.get_champion(client, fd.MODEL_NAME)
        assert champion is not None and champion.tags["promotion.decision"] == "promoted"
        predictions = lake.read_partition(root, *tables.PREDICTIONS.address, AS_OF)
        assert predictions.num_rows > 0
        assert set(predictions.column("model_version").to_pylist()) == {str(champion.version)}
        assert set(predictions.column("mlflow_run_id").to_pylist()) == {champion.run_id}
        with psycopg.connect(cluster.topology.dsn("app")) as conn:
            published = conn.execute(
                "SELECT count(*) FROM app.flight_delay_predictions WHERE flight_date = %s",
                (AS_OF,),
            ).fetchone()[0]
        assert published == predictions.num_rows
        # The API refuses anonymous callers (no all-admins mode).
        anonymous = httpx.get(f"{cluster.topology.api_url}/api/v2/dags", timeout=30)
        assert anonymous.status_code == 401
        _check_predictions_api(cluster, root, predictions, champion)
    assert cluster.alive() == dict.fromkeys(cluster.processes, False)

    # The same five days on the embedded default (SQLite, in-process dag.test) give the same rows.
    embedded = home / "embedded-data"
    env = {
        **os.environ,
        "NIGHTSHIFT_HOME": str(home / "embedded"),
        "NIGHTSHIFT_LAKE_ROOT": str(embedded / "lake"),
        "NIGHTSHIFT_LANDING_ROOT": str(embedded / "landing"),
        "NIGHTSHIFT_AIRFLOW_HOME": str(home / "embedded" / "airflow"),
        # The lake begins with HISTORY: a feature day's window before it is not a gap.
        "NIGHTSHIFT_HISTORY_START": str(HISTORY.start),
    }
    for key in list(env):
        if key.startswith("AIRFLOW"):
            del env[key]
    nightshift = str(Path(sys.executable).parent / "nightshift")
    subprocess.run(
        [nightshift, "run-dag", "flights_daily", "--start", str(BACKFILL.start), "--end",
         str(BACKFILL.end)],
        env=env, check=True, timeout=900, capture_output=True,
    )  # fmt: skip
    for day in BACKFILL.days():
        for layer, table in COMPARED:
            assert _rows(embedded / "lake", layer, table, day).equals(
                _rows(home / "data" / "lake", layer, table, day)
            ), (layer, table, day)
    # Reference snapshots are stored once per change of content: the same snapshots, the same rows.
    for table in ("planes", "airports", "airlines"):
        address = tables.raw(table).address
        stored = lake.list_partitions(root, *address)
        assert lake.list_partitions(embedded / "lake", *address) == stored, table
        for day in stored:
            assert _rows(embedded / "lake", "raw", table, day).equals(
                _rows(root, "raw", table, day)
            ), (table, day)
