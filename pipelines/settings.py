"""The one place that knows about environments.

Every value comes from an environment variable prefixed ``NIGHTSHIFT_`` (or a ``.env`` file at the
repository root). Relative paths are resolved against ``NIGHTSHIFT_HOME``, which defaults to the
repository root, so a task process started by Airflow in any working directory finds the same lake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NIGHTSHIFT_",
        env_file=REPO_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    home: Path = Field(default=REPO_ROOT, description="Base for every relative path below.")
    lake_root: Path = Field(default=Path("data/lake"), description="Root of the Parquet lake.")
    # Commits of the lake kept readable (time travel); older ones are vacuumed with the files only
    # they used, at each warehouse refresh. A nightly run commits about ten times.
    lake_snapshots_kept: int = Field(default=200, ge=1)
    landing_root: Path = Field(
        default=Path("data/landing"), description="Where the `files` source finds daily CSV drops."
    )
    warehouse_path: Path = Field(
        default=Path("data/warehouse.duckdb"), description="Views-only DuckDB catalog for analysts."
    )
    sql_root: Path = Field(default=REPO_ROOT / "sql", description="Layered DuckDB SQL files.")
    # Every pipeline DuckDB connection: past the memory limit it spills to the temporary
    # directory instead of growing, so a large day costs disk and time, not the worker.
    duckdb_memory_limit: str = Field(
        default="2GB",
        pattern=r"(?i)^\d+(\.\d+)?\s*(%|[KMGT]i?B|B)$",
        description="DuckDB memory_limit per connection, e.g. 2GB, 512MiB or 50%.",
    )
    duckdb_temp_directory: Path = Field(
        default=Path("data/duckdb-tmp"), description="Where DuckDB spills past its memory limit."
    )
    duckdb_threads: int = Field(default=0, ge=0, description="DuckDB threads; 0: one per core.")
    airflow_home: Path = Field(default=Path("data/airflow"), description="AIRFLOW_HOME to use.")
    mlflow_tracking_uri: str = Field(
        default="", description="MLflow tracking URI; empty means a sqlite store under data/."
    )
    mlflow_artifact_root: Path = Field(
        default=Path("data/mlartifacts"),
        description="Artifacts of a local MLflow store (a tracking server keeps its own).",
    )

    reports_root: Path = Field(
        default=Path("data/reports"), description="Static reports (monitoring HTML) for on-call."
    )

    source_kind: Literal["files", "postgres"] = "files"
    source_dsn: SecretStr | None = Field(
        default=None, description="postgresql://user:pass@host:port/db of the OLTP source."
    )

    # Where the application reads predictions: unset, predictions stay in the lake only.
    publish_dsn: SecretStr | None = Field(
        default=None, description="postgresql://... of the application database (upsert target)."
    )
    publish_schema: str = Field(default="app", pattern=r"^[a-z_][a-z0-9_]*$")

    # Monitoring thresholds: crossing one is a finding; findings open or update an incident.
    monitor_min_roc_auc: float = 0.60
    monitor_max_brier: float = 0.20
    # PSI of a flight-level feature's day against the champion's training rows.
    monitor_max_psi: float = 0.25
    # A feature's missing share above the worst training day's by more than this: a broken feed.
    monitor_max_missing_increase: float = 0.2
    monitor_min_labelled_flights: int = 200
    # Day-level features (weather, traffic): the day's mean may lie this share of the training
    # days' range beyond it (the season moves), and may step from yesterday's by this multiple of
    # the largest step between training days before it counts as a broken feed.
    monitor_daily_range_margin: float = Field(default=0.5, ge=0)
    monitor_max_step_ratio: float = Field(default=1.5, gt=0)
    # At least this share of a day's flights must have been scored.
    monitor_min_scored_share: float = Field(default=0.9, ge=0, le=1)
    # An incident resolves after this many monitored days without its finding; retraining is
    # requested once per incident, and at most once in this many days.
    monitor_resolve_after_days: int = Field(default=2, ge=1)
    monitor_retrain_cooldown_days: int = Field(default=7, ge=0)

    # Where incidents are announced (opened, escalated, resolved): a webhook that takes a JSON
    # POST (Slack, Teams, PagerDuty, a chat bot), and email through Airflow's SMTP connection.
    alert_webhook_url: SecretStr | None = Field(
        default=None, description="https://... that receives one JSON POST per incident change."
    )
    alert_email_to: str | None = Field(
        default=None, description="Comma-separated addresses for incident email (SMTP connection)."
    )
    # Links in reports and alerts. The defaults are `make airflow` and `make mlflow`.
    airflow_ui_url: str = "http://localhost:8080"
    mlflow_ui_url: str = "http://127.0.0.1:5000"

    # Analyst queries (`nightshift query`, `scores`): a statement running longer is interrupted,
    # and a result is cut at this many rows (the CLI says so).
    query_timeout_seconds: float = Field(default=60.0, gt=0)
    query_max_rows: int = Field(default=100_000, ge=1)

    # A flights_daily run over more days than this fans out: one mapped extract and validation per
    # chunk of this many days, run in parallel by the executor's workers; features then build the
    # whole interval in day order (each day reads the 28 days before it from the lake).
    ingest_chunk_days: int = Field(default=31, ge=1)

    # The DAGs' schedule window. The default covers the sample data (2013); in production leave the
    # end empty so the nightly run goes on.
    schedule_start: date = date(2013, 1, 1)
    # The first day the lake holds data (default: schedule_start). A feature day's 28-day history
    # may reach before it without counting as incomplete; every later day must be published.
    history_start: date | None = None
    # 2013-12-30: the sample's last day with weather (its hourly weather stops on the evening of the
    # 30th, so the 31st would rightly be blocked by validation).
    schedule_end: date | None = date(2013, 12, 30)
    # Training and scoring need history: their schedules start this many days after the data
    # path's (six weeks of features; a week later, once a first champion can exist).
    training_lead_days: int = Field(default=42, ge=0)
    scoring_lead_days: int = Field(default=49, ge=0)

    # Row-count bounds of one day's partition: outside them the day is blocked (critical check).
    # Sanity limits only (the volume rule below judges a day against recent days): the maximum
    # must let a large day through, so it is far above any real day.
    min_flights_per_day: int = 100
    max_flights_per_day: int = 10_000_000
    min_weather_rows_per_day: int = 24
    max_weather_rows_per_day: int = 200
    # Volume rule: a daily table's rows against the median of its published days in the last
    # `volume_window_days`; below min_ratio x median or above max_ratio x median blocks the day.
    # The 2013 data lies within 0.65 (Thanksgiving) and 1.06 of its 28-day median. With fewer
    # than `volume_min_days` published days in the window the rule is skipped (a new lake).
    volume_window_days: int = Field(default=28, ge=1)
    volume_min_days: int = Field(default=7, ge=1)
    volume_min_ratio: float = Field(default=0.5, ge=0)
    volume_max_ratio: float = Field(default=1.5, gt=1)
    # A reference snapshot (planes, airports, airlines) that has lost more than this share of the
    # previous published snapshot's rows blocks the day.
    max_snapshot_row_loss: float = Field(default=0.05, ge=0, le=1)

    # The predictions API (`nightshift serve`, api/). Keys are comma-separated `scopes:key` entries,
    # scopes `read` (lookups), `score` (on-demand scoring) or `read+score`. Without keys the service
    # runs open, and only on the embedded default listening on a loopback address; with
    # NIGHTSHIFT_PUBLISH_DSN set (the production profile) it refuses to start without them.
    api_keys: SecretStr | None = Field(
        default=None, description="scopes:key,... for the predictions API (a secret)."
    )
    # How often the service asks the registry where @champion points (a move is loaded in the
    # background and swapped in), and how many days of as-of state on-demand scoring holds.
    api_champion_poll_seconds: float = Field(default=30.0, gt=0)
    api_days_held: int = Field(default=3, ge=1)

    @field_validator("schedule_end", "history_start", mode="before")
    @classmethod
    def _empty_means_open_ended(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("publish_dsn", "source_dsn", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _no_keys_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        for name in (
            "lake_root",
            "landing_root",
            "warehouse_path",
            "sql_root",
            "airflow_home",
            "mlflow_artifact_root",
            "reports_root",
            "duckdb_temp_directory",
        ):
            value: Path = getattr(self, name)
            if not value.is_absolute():
                object.__setattr__(self, name, (self.home / value).resolve())
        if not self.mlflow_tracking_uri:
            db = (self.home / "data" / "mlflow.db").resolve()
            object.__setattr__(self, "mlflow_tracking_uri", f"sqlite:///{db}")
        if self.source_kind == "postgres" and self.source_dsn is None:
            raise ValueError(
                "NIGHTSHIFT_SOURCE_KIND=postgres needs NIGHTSHIFT_SOURCE_DSN "
                "(for example postgresql://postgres@127.0.0.1:5432/nightshift_source)"
            )
        return self

    @property
    def first_history_day(self) -> date:
        return self.history_start or self.schedule_start

    def thresholds(self) -> Thresholds:
        """The monitoring thresholds, from the ``monitor_*`` settings."""
        return Thresholds(
            min_roc_auc=self.monitor_min_roc_auc,
            max_brier=self.monitor_max_brier,
            max_psi=self.monitor_max_psi,
            max_missing_increase=self.monitor_max_missing_increase,
            min_labelled_flights=self.monitor_min_labelled_flights,
            daily_range_margin=self.monitor_daily_range_margin,
            max_step_ratio=self.monitor_max_step_ratio,
            min_scored_share=self.monitor_min_scored_share,
            resolve_after_days=self.monitor_resolve_after_days,
            retrain_cooldown_days=self.monitor_retrain_cooldown_days,
        )

    def query_limits(self) -> QueryLimits:
        """The analyst-query sandbox limits, from the ``query_*`` settings."""
        return QueryLimits(self.query_timeout_seconds, self.query_max_rows)

    def duckdb_resources(self) -> DuckDBResources:
        """What each pipeline DuckDB connection may use, from the ``duckdb_*`` settings."""
        return DuckDBResources(
            self.duckdb_memory_limit, self.duckdb_temp_directory, self.duckdb_threads
        )

    def row_count_bounds(self) -> RowCountBounds:
        """How many rows a day may have: the ``*_per_day``, ``volume_*`` and snapshot settings."""
        return RowCountBounds(
            flights=(self.min_flights_per_day, self.max_flights_per_day),
            weather=(self.min_weather_rows_per_day, self.max_weather_rows_per_day),
            volume_window_days=self.volume_window_days,
            volume_min_days=self.volume_min_days,
            volume_ratio=(self.volume_min_ratio, self.volume_max_ratio),
            max_snapshot_row_loss=self.max_snapshot_row_loss,
        )


# The settings above are the one source of these values: the dataclasses have no defaults.
@dataclass(frozen=True)
class Thresholds:
    """Monitoring thresholds (crossing one is a finding) and the incident policy."""

    min_roc_auc: float
    max_brier: float
    max_psi: float
    max_missing_increase: float
    min_labelled_flights: int
    daily_range_margin: float
    max_step_ratio: float
    min_scored_share: float
    resolve_after_days: int
    retrain_cooldown_days: int


@dataclass(frozen=True)
class QueryLimits:
    """How long an analyst query may run and how many rows it may return."""

    timeout_seconds: float
    max_rows: int


@dataclass(frozen=True)
class DuckDBResources:
    """What one pipeline DuckDB connection may use: ``memory_limit`` before it spills to
    ``temp_directory``, and ``threads`` (0: DuckDB's default, one per core)."""

    memory_limit: str
    temp_directory: Path
    threads: int


@dataclass(frozen=True)
class RowCountBounds:
    """How many rows one day of a table may have before the day is blocked.

    ``flights``/``weather``: absolute (min, max) per day. ``volume_ratio``: (min, max) multiples of
    the median of the published days in the last ``volume_window_days`` (given at least
    ``volume_min_days`` of them). ``max_snapshot_row_loss``: the share of rows a reference snapshot
    may lose against the previous published one.
    """

    flights: tuple[int, int]
    weather: tuple[int, int]
    volume_window_days: int
    volume_min_days: int
    volume_ratio: tuple[float, float]
    max_snapshot_row_loss: float


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
