"""Settings: paths relative to NIGHTSHIFT_HOME, the MLflow default, the source and its secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from pipelines.ingest.sources import source_from_settings
from pipelines.ingest.sources.files import FilesSource
from pipelines.settings import REPO_ROOT, Settings

PATH_VARIABLES = (
    "NIGHTSHIFT_LAKE_ROOT",
    "NIGHTSHIFT_LANDING_ROOT",
    "NIGHTSHIFT_WAREHOUSE_PATH",
    "NIGHTSHIFT_SQL_ROOT",
    "NIGHTSHIFT_AIRFLOW_HOME",
    "NIGHTSHIFT_MLFLOW_TRACKING_URI",
)
DSN = "postgresql://nightshift:hunter2-s3cret@127.0.0.1:1/nightshift_source"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A NIGHTSHIFT_HOME with every other path variable unset (the session sets some)."""
    for name in PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NIGHTSHIFT_SOURCE_KIND", "files")
    monkeypatch.delenv("NIGHTSHIFT_SOURCE_DSN", raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("NIGHTSHIFT_HOME", str(home))
    return home


def _settings() -> Settings:
    return Settings(_env_file=None)


def test_default_paths_resolve_against_nightshift_home(home: Path) -> None:
    settings = _settings()

    assert settings.home == home
    assert settings.lake_root == (home / "data" / "lake").resolve()
    assert settings.landing_root == (home / "data" / "landing").resolve()
    assert settings.warehouse_path == (home / "data" / "warehouse.duckdb").resolve()
    assert settings.airflow_home == (home / "data" / "airflow").resolve()
    for path in (settings.lake_root, settings.landing_root, settings.warehouse_path):
        assert path.is_absolute()


def test_the_sql_files_default_to_the_repository_not_the_home(home: Path) -> None:
    assert _settings().sql_root == REPO_ROOT / "sql"
    assert (REPO_ROOT / "sql" / "staging").is_dir()


def test_relative_env_paths_resolve_against_home_not_the_working_directory(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # as a task process started by Airflow in any directory
    monkeypatch.setenv("NIGHTSHIFT_LAKE_ROOT", "custom/lake")
    monkeypatch.setenv("NIGHTSHIFT_WAREHOUSE_PATH", "catalog/analysts.duckdb")

    settings = _settings()

    assert settings.lake_root == (home / "custom" / "lake").resolve()
    assert settings.warehouse_path == (home / "catalog" / "analysts.duckdb").resolve()


def test_absolute_env_paths_are_kept(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lake_root = tmp_path / "shared" / "lake"
    landing_root = tmp_path / "sftp" / "drops"
    sql_root = tmp_path / "sql"
    monkeypatch.setenv("NIGHTSHIFT_LAKE_ROOT", str(lake_root))
    monkeypatch.setenv("NIGHTSHIFT_LANDING_ROOT", str(landing_root))
    monkeypatch.setenv("NIGHTSHIFT_SQL_ROOT", str(sql_root))

    settings = _settings()

    assert settings.lake_root == lake_root
    assert settings.landing_root == landing_root
    assert settings.sql_root == sql_root


def test_default_mlflow_uri_is_an_explicit_sqlite_uri_under_home_data(home: Path) -> None:
    uri = _settings().mlflow_tracking_uri

    db = (home / "data" / "mlflow.db").resolve()
    assert uri == f"sqlite:///{db}"
    assert uri.startswith("sqlite:////")  # three slashes of the scheme + an absolute path


def test_an_explicit_mlflow_uri_is_kept(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_MLFLOW_TRACKING_URI", "http://mlflow:5000")

    assert _settings().mlflow_tracking_uri == "http://mlflow:5000"


def test_postgres_without_a_dsn_is_refused_naming_the_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_SOURCE_KIND", "postgres")

    with pytest.raises(ValidationError, match="NIGHTSHIFT_SOURCE_DSN"):
        _settings()


def test_an_unknown_source_kind_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_SOURCE_KIND", "s3")

    with pytest.raises(ValidationError, match="source_kind"):
        _settings()


def test_the_dsn_is_a_secret_not_shown_in_repr_or_str(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_SOURCE_KIND", "postgres")
    monkeypatch.setenv("NIGHTSHIFT_SOURCE_DSN", DSN)

    settings = _settings()

    assert isinstance(settings.source_dsn, SecretStr)
    assert settings.source_dsn.get_secret_value() == DSN
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    assert "hunter2" not in settings.model_dump_json()


def test_source_from_settings_gives_the_files_source_over_the_landing_root(home: Path) -> None:
    settings = _settings()

    source = source_from_settings(settings)

    assert isinstance(source, FilesSource)
    assert source.kind == "files"
    assert source.landing_root == settings.landing_root


def test_source_from_settings_gives_a_postgres_source_without_connecting(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.ingest.sources.postgres import PostgresSource

    monkeypatch.setenv("NIGHTSHIFT_SOURCE_KIND", "postgres")
    # Port 1: nothing listens there, so constructing must not try to connect.
    monkeypatch.setenv("NIGHTSHIFT_SOURCE_DSN", DSN)

    source = source_from_settings(_settings())

    assert isinstance(source, PostgresSource)
    assert source.kind == "postgres"
    assert source.dsn == DSN


def test_duckdb_resources_default_to_a_bounded_memory_and_a_spill_folder_under_home(
    home: Path,
) -> None:
    resources = _settings().duckdb_resources()

    assert resources.memory_limit == "2GB"
    assert resources.temp_directory == (home / "data" / "duckdb-tmp").resolve()
    assert resources.threads == 0


def test_duckdb_resources_come_from_the_environment_and_refuse_a_size_duckdb_cannot_read(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_DUCKDB_MEMORY_LIMIT", "512MiB")
    monkeypatch.setenv("NIGHTSHIFT_DUCKDB_TEMP_DIRECTORY", "scratch/spill")
    monkeypatch.setenv("NIGHTSHIFT_DUCKDB_THREADS", "1")
    resources = _settings().duckdb_resources()
    assert (resources.memory_limit, resources.threads) == ("512MiB", 1)
    assert resources.temp_directory == (home / "scratch" / "spill").resolve()

    monkeypatch.setenv("NIGHTSHIFT_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValidationError, match="duckdb_memory_limit"):
        _settings()
