"""Test-wide setup. Airflow reads its configuration at import, so it is set here, first.

Every test session gets its own AIRFLOW_HOME (SQLite metadata DB) and its own data folders under a
temporary directory: the suite never touches ./data or the network.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

SESSION_DIR = Path(tempfile.mkdtemp(prefix="nightshift-tests-"))
REPO_ROOT = Path(__file__).resolve().parents[1]

os.environ["NIGHTSHIFT_HOME"] = str(SESSION_DIR)
os.environ["NIGHTSHIFT_AIRFLOW_HOME"] = str(SESSION_DIR / "airflow")
# The tests must not depend on a developer's .env or shell: pin the settings they rely on.
os.environ["NIGHTSHIFT_SOURCE_KIND"] = "files"
os.environ.pop("NIGHTSHIFT_SOURCE_DSN", None)
os.environ.pop("NIGHTSHIFT_MLFLOW_TRACKING_URI", None)
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from pipelines.ops.airflow_env import embedded_airflow_env  # noqa: E402
from pipelines.settings import Settings, get_settings  # noqa: E402

for _key, _value in embedded_airflow_env(Settings()).items():
    os.environ[_key] = _value
(SESSION_DIR / "airflow").mkdir(parents=True, exist_ok=True)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fresh lake, landing zone and warehouse for one test, visible to code that reads settings."""
    monkeypatch.setenv("NIGHTSHIFT_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("NIGHTSHIFT_LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("NIGHTSHIFT_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def sql_root() -> Path:
    return REPO_ROOT / "sql"


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh local MLflow store (sqlite + artifact folder) for one test; returns its URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("NIGHTSHIFT_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("NIGHTSHIFT_MLFLOW_ARTIFACT_ROOT", str(tmp_path / "mlartifacts"))
    get_settings.cache_clear()
    yield uri
    get_settings.cache_clear()
