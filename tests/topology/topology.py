"""The production topology's configuration, in one place.

``docker-compose.yml`` runs PostgreSQL (Airflow metadata, the MLflow backend store, the source and
application databases), Redis (the Celery broker), the Airflow ``api-server``, ``scheduler``,
``dag-processor``, ``triggerer`` and Celery workers, and ``mlflow server``. The topology test runs
the same processes directly on a machine without a Docker engine. Both take their settings from
:func:`airflow_env` and :func:`mlflow_server_args`, and a test checks the compose file against
them, so the two cannot drift apart.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.settings import REPO_ROOT

# Airflow settings that are the same wherever the topology runs (compose or the test).
AIRFLOW_CONSTANTS = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    "AIRFLOW__CORE__AUTH_MANAGER": (
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    ),
    # Login required: users and their roles come from the environment, never "everyone is admin".
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
# Settings whose values depend on where the topology runs (hosts, ports, paths, secrets).
AIRFLOW_VARIABLES = (
    "AIRFLOW_HOME",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__OPERATORS__DEFAULT_QUEUE",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    "NIGHTSHIFT_HOME",
    "NIGHTSHIFT_MLFLOW_TRACKING_URI",
    "NIGHTSHIFT_SOURCE_KIND",
    "NIGHTSHIFT_PUBLISH_DSN",
)
SERVICES = (
    "postgres",
    "redis",
    "airflow-init",
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "worker",
    "mlflow",
    "api",
)


def free_ports(count: int) -> list[int]:
    """``count`` distinct free local ports (all held open while choosing, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass(frozen=True)
class Topology:
    """Where the processes of one topology find each other."""

    home: Path
    postgres: str  # postgresql://user[:password]@host:port (no database)
    redis: str  # redis://host:port/db
    api_url: str  # http://host:port of the Airflow API server
    mlflow_url: str  # http://host:port of the MLflow server
    database_prefix: str = "nightshift"
    admin_user: str = "admin"
    queue: str = "default"  # the Celery queue tasks go to and workers consume
    jwt_secret: str = field(default="", repr=False)
    fernet_key: str = field(default="", repr=False)
    api_keys: str = field(default="", repr=False)  # NIGHTSHIFT_API_KEYS of the predictions API

    def database(self, name: str) -> str:
        return f"{self.database_prefix}_{name}"

    def dsn(self, name: str, driver: str = "postgresql") -> str:
        return f"{self.postgres.replace('postgresql', driver, 1)}/{self.database(name)}"

    @property
    def databases(self) -> tuple[str, ...]:
        return tuple(self.database(n) for n in ("airflow", "mlflow", "app"))


def airflow_env(t: Topology) -> dict[str, str]:
    """Every environment variable an Airflow process (or task) of the topology needs."""
    home = Path(t.home)
    return {
        **AIRFLOW_CONSTANTS,
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": t.dsn("airflow", "postgresql+psycopg"),
        # Airflow would derive an asyncpg URL (a driver not installed): psycopg 3 does async too.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": t.dsn("airflow", "postgresql+psycopg"),
        "AIRFLOW__CELERY__BROKER_URL": t.redis,
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": t.queue,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + t.dsn("airflow", "postgresql+psycopg"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{t.api_url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": t.jwt_secret,
        "AIRFLOW__API__SECRET_KEY": t.jwt_secret,
        "AIRFLOW__CORE__FERNET_KEY": t.fernet_key,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{t.admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
            home / "airflow" / "passwords.json"
        ),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "airflow" / "logs"),
        "NIGHTSHIFT_HOME": str(home),
        "NIGHTSHIFT_MLFLOW_TRACKING_URI": t.mlflow_url,
        "NIGHTSHIFT_SOURCE_KIND": "files",
        "NIGHTSHIFT_PUBLISH_DSN": t.dsn("app"),
    }


def mlflow_server_args(t: Topology, port: int, host: str = "127.0.0.1") -> list[str]:
    """``mlflow server`` with the PostgreSQL backend store and a served artifact root."""
    return [
        "server",
        "--backend-store-uri",
        t.dsn("mlflow", "postgresql+psycopg"),
        "--artifacts-destination",
        str(Path(t.home) / "mlartifacts"),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
        # MLflow 3 checks the Host header (DNS-rebinding protection): name who may call it.
        "--allowed-hosts",
        ",".join(f"{h}:{port}" for h in (host, "localhost", "127.0.0.1")),
    ]


def api_env(t: Topology) -> dict[str, str]:
    """The predictions API's environment: the production profile (the application database),
    keys required, the registry, and a spill folder outside the lake it reads."""
    return {
        "NIGHTSHIFT_HOME": str(t.home),
        "NIGHTSHIFT_MLFLOW_TRACKING_URI": t.mlflow_url,
        "NIGHTSHIFT_PUBLISH_DSN": t.dsn("app"),
        "NIGHTSHIFT_API_KEYS": t.api_keys,
        "NIGHTSHIFT_DUCKDB_TEMP_DIRECTORY": "/tmp/nightshift-duckdb",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "OMP_NUM_THREADS": "1",
    }


def api_args(port: int, host: str = "127.0.0.1") -> list[str]:
    """``nightshift serve`` as the topology runs it."""
    return ["serve", "--host", host, "--port", str(port)]
