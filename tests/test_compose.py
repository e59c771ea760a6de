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

from tests.topology.topology import (
    AIRFLOW_CONSTANTS,
    AIRFLOW_VARIABLES,
    SERVICES,
    Topology,
    airflow_env,
    api_args,
    api_env,
    mlflow_server_args,
)

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


AIRFLOW_SERVICES = [
    "airflow-init",
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "worker",
]
# The topology as compose names it: hosts are service names, databases have the default prefix.
COMPOSE_TOPOLOGY = Topology(
    home=Path("/opt/nightshift"),
    postgres="postgresql://USER:PASSWORD@postgres:5432",
    redis="redis://redis:6379/0",
    api_url="http://api-server:8080",
    mlflow_url="http://mlflow:5000",
    api_keys="KEYS",
)


def _unsecret(value: str) -> str:
    """``${POSTGRES_USER:?...}`` -> ``USER`` and so on, to compare URLs with the topology's."""
    value = re.sub(r"\$\{POSTGRES_USER[^}]*\}", "USER", value)
    value = re.sub(r"\$\{API_KEYS[^}]*\}", "KEYS", value)
    return re.sub(r"\$\{POSTGRES_PASSWORD[^}]*\}", "PASSWORD", value)


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_services_have_the_topologys_settings(compose: dict, service: str) -> None:
    env = _airflow_env(compose, service)
    for key, value in AIRFLOW_CONSTANTS.items():
        assert env.get(key) == value, f"{service}: {key}={env.get(key)!r}, topology has {value!r}"
    extra = {"AIRFLOW_ADMIN_USER", "AIRFLOW_ADMIN_PASSWORD"} if service == "airflow-init" else set()
    assert set(env) == set(AIRFLOW_CONSTANTS) | set(AIRFLOW_VARIABLES) | COMPOSE_ONLY | extra
    # Connection settings: the same URLs as the topology's, with compose's hosts and secrets.
    expected = airflow_env(COMPOSE_TOPOLOGY)
    for key in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "NIGHTSHIFT_HOME",
        "NIGHTSHIFT_MLFLOW_TRACKING_URI",
    ):
        assert _unsecret(env[key]) == expected[key], f"{service}: {key}"
    assert _unsecret(env["NIGHTSHIFT_PUBLISH_DSN"]) == COMPOSE_TOPOLOGY.dsn("app")
    assert env["NIGHTSHIFT_SOURCE_KIND"] == "postgres"
    # The image copies plugins/ beside dags/: the DAGs' timetable is registered there.
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/nightshift/plugins"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/nightshift/dags"


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


def test_mlflow_runs_the_topologys_server(compose: dict) -> None:
    service = compose["services"]["mlflow"]
    # The Airflow image's entrypoint would run `airflow mlflow ...`: the entrypoint is mlflow.
    assert service["entrypoint"] == ["mlflow"]
    command = [_unsecret(str(c)) for c in service["command"]]
    expected = mlflow_server_args(COMPOSE_TOPOLOGY, 5000, host="0.0.0.0")
    options = dict(zip(command[1::2], command[2::2], strict=False))
    wanted = dict(zip(expected[1::2], expected[2::2], strict=False))
    assert command[0] == expected[0] == "server"
    assert options["--backend-store-uri"] == wanted["--backend-store-uri"]
    assert options["--artifacts-destination"] == "/mlartifacts"
    assert set(options) == set(wanted)
    assert "mlflow:5000" in options["--allowed-hosts"].split(",")


def test_the_api_runs_as_the_topology_runs_it(compose: dict) -> None:
    service = compose["services"]["api"]
    assert service["entrypoint"] == ["nightshift"]
    assert service["command"] == api_args(8000, host="0.0.0.0")
    env = {k: _unsecret(str(v)) for k, v in service["environment"].items()}
    assert env == api_env(COMPOSE_TOPOLOGY)
    # It reads the lake, never writes it; keys are required (the production profile).
    assert "lake:/opt/nightshift/data:ro" in service["volumes"]
    assert service["environment"]["NIGHTSHIFT_API_KEYS"].startswith("${API_KEYS:?")


def test_the_image_is_pinned_and_owns_its_volumes() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE).group(1)
    assert re.fullmatch(r"apache/airflow:3\.3\.2-python3\.11", base), base
    for mount in ("/opt/nightshift/data", "/opt/airflow/auth", "/mlartifacts"):
        assert mount in dockerfile, f"{mount} is not created for the image's user"


def test_every_variable_is_in_env_example_and_no_secret_is_baked_in() -> None:
    text = COMPOSE.read_text()
    variables = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}", text))
    example = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert variables, "no ${VAR} in docker-compose.yml"
    assert not variables - documented, f"missing from .env.example: {variables - documented}"
    for secret in ("POSTGRES_PASSWORD", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_JWT_SECRET", "API_KEYS"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses, secret
        # Required, never defaulted: compose refuses to start without it.
        assert all(u.startswith(":?") for u in uses), f"{secret}: {set(uses)}"


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
