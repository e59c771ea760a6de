"""The Airflow configuration of the embedded default, as environment variables.

One function derives it from settings, and everything that starts Airflow uses it: the Makefile
(``nightshift airflow-env``), the demo runner and the tests. Airflow reads ``AIRFLOW__*`` variables
before anything else, so these must be in the environment before the first ``import airflow``.
"""

from __future__ import annotations

import os

from pipelines.settings import REPO_ROOT, Settings


def embedded_airflow_env(settings: Settings) -> dict[str, str]:
    """SQLite metadata, LocalExecutor with low parallelism (2 cores), this repo's DAGs."""
    home = settings.airflow_home
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # LocalExecutor pre-forks `parallelism` workers (32 by default): too many for 2 cores.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://localhost:8080/execution/",
        # The embedded demo only: every UI user is an admin. Production sets users (see README).
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # Task processes use MLflow: no usage telemetry leaves the machine.
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def apply_embedded_airflow_env(settings: Settings) -> dict[str, str]:
    """Set the embedded Airflow variables that the environment does not already set."""
    env = embedded_airflow_env(settings)
    for key, value in env.items():
        os.environ.setdefault(key, value)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    return env
