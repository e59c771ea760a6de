"""docker-compose.yml against the topology the tests run (pipelines/topology.py) and .env.example.

No Docker engine is needed: the file is parsed as YAML and compared with the settings the topology
test uses; where Debian's ``docker-compose`` is installed, ``docker-compose config`` validates it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines.topology import AIRFLOW_CONSTANTS, AIRFLOW_VARIABLES, SERVICES

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE = REPO_ROOT / "docker-compose.yml"
# Settings only the containers need (the topology test runs on the files source and its own dates).
COMPOSE_ONLY = {
    "NIGHTSHIFT_SOURCE_DSN",
    "NIGHTSHIFT_SCHEDULE_START",
    "NIGHTSHIFT_SCHEDULE_END",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _airflow_env(compose: dict, service: str) -> dict[str, str]:
    return {k: str(v) for k, v in compose["services"][service]["environment"].items()}


def test_the_services_are_the_topologys(compose: dict) -> None:
    assert set(compose["services"]) == set(SERVICES)


@pytest.mark.parametrize(
    "service", ["api-server", "scheduler", "dag-processor", "triggerer", "worker"]
)
def test_airflow_services_have_the_topologys_settings(compose: dict, service: str) -> None:
    env = _airflow_env(compose, service)
    for key, value in AIRFLOW_CONSTANTS.items():
        assert env.get(key) == value, f"{service}: {key}={env.get(key)!r}, topology has {value!r}"
    assert set(env) == set(AIRFLOW_CONSTANTS) | set(AIRFLOW_VARIABLES) | COMPOSE_ONLY
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert env["NIGHTSHIFT_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert "api-server:8080/execution/" in env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]


def test_every_long_running_service_has_a_healthcheck_and_waits_for_health(compose: dict) -> None:
    for name, service in compose["services"].items():
        if name == "airflow-init":
            continue
        assert "healthcheck" in service, f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully"
                if dependency == "airflow-init"
                else "service_healthy"
            )
            assert condition["condition"] == expected, (name, dependency)


def test_images_are_pinned(compose: dict) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"


def test_one_shared_lake_volume(compose: dict) -> None:
    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker"):
        assert "lake:/opt/nightshift/data" in compose["services"][name]["volumes"], name
    assert "lake" in compose["volumes"]


def test_mlflow_uses_postgres_and_an_artifact_volume(compose: dict) -> None:
    command = compose["services"]["mlflow"]["command"]
    store = command[command.index("--backend-store-uri") + 1]
    assert store.startswith("postgresql+psycopg://") and store.endswith("/nightshift_mlflow")
    assert command[command.index("--artifacts-destination") + 1] == "/mlartifacts"


def test_every_variable_is_in_env_example_and_no_secret_is_baked_in() -> None:
    text = COMPOSE.read_text()
    variables = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(?::-[^}]*)?\}", text))
    example = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert variables, "no ${VAR} in docker-compose.yml"
    assert not variables - documented, f"missing from .env.example: {variables - documented}"
    for secret in ("POSTGRES_PASSWORD", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_JWT_SECRET"):
        assert f"${{{secret}:-" not in text, f"{secret} has a default baked in"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_validates(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text((REPO_ROOT / ".env.example").read_text())
    result = subprocess.run(
        ["docker-compose", "--env-file", str(env), "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
