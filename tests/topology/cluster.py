"""Start the production topology as local processes (no Docker engine): Airflow on PostgreSQL
with the CeleryExecutor on Redis, and an MLflow server; stop every process it started."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from pipelines.ops.airflow_rest import AirflowApi
from pipelines.ops.embedded_airflow import stop_process_groups
from tests.fixtures.postgres import ADMIN_DSN
from tests.topology.topology import (
    Topology,
    airflow_env,
    api_args,
    api_env,
    free_ports,
    mlflow_server_args,
)

BIN = Path(sys.executable).parent


class Cluster:
    def __init__(self, home: Path, settings: dict[str, str] | None = None) -> None:
        # Own databases and an own Celery queue: a worker left over from a crashed earlier run
        # cannot take this run's tasks, nor this run another's.
        prefix = f"nightshift_topo_{os.getpid()}"
        self.home = home
        api_port, self.mlflow_port, health, worker_logs, trigger_logs, predictions = free_ports(6)
        # The predictions API: one key that may read and score (the production profile).
        self.api_key = secrets.token_urlsafe(24)
        self.predictions_url = f"http://127.0.0.1:{predictions}"
        self.topology = Topology(
            home=home,
            postgres="postgresql://postgres@127.0.0.1:5432",
            redis="redis://127.0.0.1:6379/7",
            api_url=f"http://127.0.0.1:{api_port}",
            mlflow_url=f"http://127.0.0.1:{self.mlflow_port}",
            database_prefix=prefix,
            queue=prefix,
            jwt_secret=secrets.token_hex(16),
            fernet_key="",
            api_keys=f"read+score:{self.api_key}",
        )
        self.api_port = api_port
        self.password = secrets.token_urlsafe(12)
        self.processes: dict[str, subprocess.Popen] = {}
        # Nothing of the test session's embedded configuration leaks in: only the topology's
        # settings (what docker-compose.yml sets), the test's own, and free local ports.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "NIGHTSHIFT_", "MLFLOW_"))
        }
        self.env.update(airflow_env(self.topology))
        self.env.update(settings or {})
        self.env.update(
            {
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_logs),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_logs),
            }
        )
        self._log_files: list = []
        self.logs = home / "process-logs"

    # --- set-up -----------------------------------------------------------------------------

    def create_databases(self) -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            for name in self.topology.databases:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def write_users(self) -> None:
        path = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({self.topology.admin_user: self.password}))

    def run(self, *args: str, timeout: float = 600) -> None:
        subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env,
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        out = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        self._log_files.append(out)
        self.processes[name] = subprocess.Popen(
            argv, env=env or self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_all(self) -> None:
        airflow = str(BIN / "airflow")
        self.start(
            "mlflow", [str(BIN / "mlflow"), *mlflow_server_args(self.topology, self.mlflow_port)]
        )
        self.start("api-server", [airflow, "api-server", "--port", str(self.api_port)])
        self.start("scheduler", [airflow, "scheduler"])
        self.start("dag-processor", [airflow, "dag-processor"])
        self.start("triggerer", [airflow, "triggerer"])
        self.start(
            "worker",
            [airflow, "celery", "worker", "--concurrency", "2", "--queues", self.topology.queue],
        )
        port = int(self.predictions_url.rsplit(":", 1)[1])
        # A short poll, so the champion trained during the test is loaded soon after.
        api = {**self.env, **api_env(self.topology), "NIGHTSHIFT_API_CHAMPION_POLL_SECONDS": "2"}
        self.start("api", [str(BIN / "nightshift"), *api_args(port)], env=api)

    def stop(self) -> None:
        """SIGTERM every process group started, then SIGKILL every group, whatever happens."""
        try:
            stop_process_groups(list(self.processes.values()))
        finally:
            for out in self._log_files:
                out.close()

    def drop_databases(self) -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            for name in self.topology.databases:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )

    def raise_if_dead(self) -> None:
        dead = [n for n, ok in self.alive().items() if not ok]
        if dead:
            raise RuntimeError(f"{dead} exited:\n" + "\n".join(self.log_tail(n) for n in dead))

    def alive(self) -> dict[str, bool]:
        return {n: p.poll() is None for n, p in self.processes.items()}

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    # --- REST API ---------------------------------------------------------------------------

    def wait_until_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.raise_if_dead()
            try:
                api = httpx.get(f"{self.topology.api_url}/api/v2/monitor/health", timeout=5)
                ml = httpx.get(f"{self.topology.mlflow_url}/health", timeout=5)
                if api.status_code == 200 and ml.status_code == 200:
                    health = api.json()
                    if health.get("scheduler", {}).get("status") == "healthy":
                        return
            except httpx.HTTPError:
                pass
            time.sleep(2)
        raise TimeoutError(
            "topology not healthy:\n" + self.log_tail("api-server") + self.log_tail("scheduler")
        )

    def token(self) -> str:
        r = httpx.post(
            f"{self.topology.api_url}/auth/token",
            json={"username": self.topology.admin_user, "password": self.password},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()["access_token"]


@contextlib.contextmanager
def running(home: Path, settings: dict[str, str] | None = None) -> Iterator[Cluster]:
    cluster = Cluster(home, settings)
    try:
        cluster.create_databases()
        cluster.write_users()
        cluster.run("db", "migrate")
        cluster.start_all()
        cluster.wait_until_healthy()
        yield cluster
    finally:
        cluster.stop()
        with contextlib.suppress(psycopg.Error):
            cluster.drop_databases()


class Api(AirflowApi):
    """The Airflow REST API v2 (the CLI's client), authenticated with a password JWT, plus the
    waits of this test."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(
            cluster.topology.api_url,
            cluster.home / "logs",
            check_alive=cluster.raise_if_dead,
            token=cluster.token(),
        )

    def unpause(self, dag_id: str) -> None:
        self.set_paused(dag_id, False)

    def runs(self, dag_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def wait(
        self, dag_id: str, count: int, cluster: Cluster, timeout: float, run_id: str | None = None
    ) -> list[dict]:
        """Until at least ``count`` runs exist (and ``run_id`` among them) and none is queued or
        running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(dag_id)
            ids = {r["dag_run_id"] for r in runs}
            done = all(r["state"] in ("success", "failed") for r in runs)
            if len(runs) >= count and done and (run_id is None or run_id in ids):
                return runs
            self.check_alive()
            time.sleep(5)
        raise TimeoutError(
            f"{dag_id}: runs not done after {timeout} s: "
            + json.dumps([(r["dag_run_id"], r["state"]) for r in self.runs(dag_id)])
            + "\nworker:\n"
            + cluster.log_tail("worker", 60)
        )
