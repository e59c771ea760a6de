"""The registry of lake tables: every table's layer, name and key, in one place.

Stages read and write their tables through these constants; the Airflow assets
(``dags/common/assets.py``), the warehouse and the data dictionary (``sql/dictionary.yml``, checked
by a test) take their table names from here too. Deliberately import-free, so DAG files can use it
at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass

# Layers of the lake, in the order data moves through them. ``incoming`` is the unvalidated
# hand-over area; every other layer is published to analysts.
LAYERS = (
    "incoming",
    "raw",
    "quality",
    "quarantine",
    "features",
    "scores",
    "monitoring",
    "marts",
)
# Layers of SQL views (``sql/<layer>/*.sql``) the warehouse defines over the lake tables; not lake
# folders. ``marts`` is both: its tables are views, named in the lake's layer order.
VIEW_LAYERS = ("staging", "marts")


@dataclass(frozen=True)
class LakeTable:
    """One table of the lake: ``<root>/<layer>/<name>/dt=YYYY-MM-DD/`` partitions."""

    layer: str
    name: str
    key: tuple[str, ...]

    @property
    def qualified(self) -> str:
        """``layer.name``: how SQL, assets and the dictionary name the table."""
        return f"{self.layer}.{self.name}"

    def __str__(self) -> str:
        return self.qualified

    @property
    def address(self) -> tuple[str, str]:
        """``(layer, name)``: where the lake functions find the table (``*table.address``)."""
        return (self.layer, self.name)


# --- What the sources hand over ----------------------------------------------------------------

# Daily tables hold the rows of one day; reference tables a snapshot as the source held it that day.
DAILY_TABLES = ("flights", "weather")
REFERENCE_TABLES = ("planes", "airports", "airlines")
SOURCE_TABLES = DAILY_TABLES + REFERENCE_TABLES
# Published the evening before the day they describe: the plan scoring reads.
NEXT_DAY_TABLES = ("schedule", "weather_forecast")
# Tables a source delivers one file or query per day of (the day the rows describe).
DATED_TABLES = DAILY_TABLES + NEXT_DAY_TABLES

_SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "flights": ("dt", "carrier", "flight", "origin"),
    "weather": ("origin", "time_hour"),
    "planes": ("dt", "tailnum"),
    "airports": ("dt", "faa"),
    "airlines": ("dt", "carrier"),
    "schedule": ("dt", "carrier", "flight", "origin"),
    "weather_forecast": ("origin", "time_hour"),
}


def incoming(name: str) -> LakeTable:
    """A source table as extracted, before validation."""
    return LakeTable("incoming", name, _SOURCE_KEYS[name])


def raw(name: str) -> LakeTable:
    """A source table as validated and published."""
    return LakeTable("raw", name, _SOURCE_KEYS[name])


def quarantine(name: str) -> LakeTable:
    """Rows of a source table that broke a critical row-level check."""
    return LakeTable("quarantine", name, _SOURCE_KEYS[name])


def extract_log(name: str) -> LakeTable:
    """What extract found when it read a source table for a day: one row (where it read from,
    the rows, and why it could not read it, if so). Validation turns it into ``schema.readable``.
    One table per source table, because the next-day feeds are extracted by another DAG."""
    if name not in _SOURCE_KEYS:
        raise KeyError(f"no source table {name!r}; known: {', '.join(_SOURCE_KEYS)}")
    return LakeTable("incoming", f"{name}_extract_log", ("dt",))


# Unreadable files are kept, byte for byte, under ``<lake>/quarantine/<QUARANTINED_FILES>/`` (not a
# table name, so no catalog or lake listing mistakes it for one).
QUARANTINED_FILES = "_files"


# --- What the stages write ---------------------------------------------------------------------

FLIGHT_KEY = ("flight_date", "carrier", "flight_number", "origin")
VALIDATION_RESULTS = LakeTable("quality", "validation_results", ("dt", "table_name", "check_name"))
NEXT_DAY_VALIDATION_RESULTS = LakeTable(
    "quality", "next_day_validation_results", ("dt", "table_name", "check_name")
)
# Every attempt's results, kept: a repaired rerun replaces the results above, not this history.
VALIDATION_HISTORY = LakeTable(
    "quality", "validation_history", ("dt", "attempt", "table_name", "check_name")
)
NEXT_DAY_VALIDATION_HISTORY = LakeTable(
    "quality", "next_day_validation_history", ("dt", "attempt", "table_name", "check_name")
)
FLIGHT_FEATURES = LakeTable("features", "flight_features", FLIGHT_KEY)
# A feature of day D reads the outcomes of the days [D - 28, D - 1]: the longest trailing window
# of sql/features/flight_features.sql.
FEATURE_HISTORY_DAYS = 28
SCORING_FEATURES = LakeTable("features", "scoring_features", FLIGHT_KEY)
# The trailing counts the feature SQL reads, kept so a day costs a day's work
# (``pipelines/trailing.py``): each flight day's counts per carrier, route and hour, and per
# feature day the 28 days before it counted per flight number.
ROUTE_HOUR_DAILY = LakeTable(
    "features", "route_hour_daily", ("dt", "carrier", "origin", "dest", "sched_dep_hour")
)
FLIGHT_NUMBER_28D = LakeTable("features", "flight_number_28d", ("dt", "carrier", "flight_number"))
PREDICTIONS = LakeTable("scores", "flight_delay_predictions", FLIGHT_KEY)
MODEL_PERFORMANCE_DAILY = LakeTable("monitoring", "model_performance_daily", ("dt",))
CALIBRATION_BY_BAND_DAILY = LakeTable(
    "monitoring", "calibration_by_band_daily", ("dt", "risk_band")
)
PERFORMANCE_BY_SLICE_DAILY = LakeTable(
    "monitoring", "performance_by_slice_daily", ("dt", "slice", "value")
)
FEATURE_DRIFT_DAILY = LakeTable("monitoring", "feature_drift_daily", ("dt", "feature"))
# Every crossed threshold of a monitored day (the evidence), and the incidents folded from them:
# one row per incident, in the partition of the day it opened (recomputed on every run).
FINDINGS_DAILY = LakeTable("monitoring", "findings_daily", ("dt", "kind", "subject", "item"))
CHECKS_DAILY = LakeTable("monitoring", "checks_daily", ("dt", "kind"))
ALERTS = LakeTable("monitoring", "alerts", ("incident_id",))
MONITORING_TABLES = (
    MODEL_PERFORMANCE_DAILY,
    CALIBRATION_BY_BAND_DAILY,
    PERFORMANCE_BY_SLICE_DAILY,
    FEATURE_DRIFT_DAILY,
    FINDINGS_DAILY,
    CHECKS_DAILY,
    ALERTS,
)

# Staging models: SQL views (``sql/staging``) that rename and type the raw tables for the stages.
STAGING = (
    LakeTable("staging", "stg_flight_labelled_schedule", FLIGHT_KEY),
    LakeTable("staging", "stg_flight_outcomes", FLIGHT_KEY),
    LakeTable("staging", "stg_flight_schedule", FLIGHT_KEY),
    LakeTable("staging", "stg_planes", ("snapshot_date", "tailnum")),
    LakeTable("staging", "stg_weather", ("origin", "observed_hour_utc")),
)

# Analyst marts: SQL views in the warehouse (``sql/marts``), not partitions.
ROUTE_RISK_DAILY = LakeTable("marts", "route_risk_daily", ("flight_date", "origin", "dest"))
MODEL_PERFORMANCE = LakeTable("marts", "model_performance", ("dt",))
REALIZED_PERFORMANCE_BY_SLICE = LakeTable(
    "marts", "realized_performance_by_slice", ("slice", "value", "model_version")
)
MARTS = (ROUTE_RISK_DAILY, MODEL_PERFORMANCE, REALIZED_PERFORMANCE_BY_SLICE)


def published() -> tuple[LakeTable, ...]:
    """Every table an analyst finds in the warehouse and the data dictionary documents."""
    intake = DAILY_TABLES + NEXT_DAY_TABLES + REFERENCE_TABLES
    return (
        *(raw(t) for t in intake),
        VALIDATION_RESULTS,
        NEXT_DAY_VALIDATION_RESULTS,
        VALIDATION_HISTORY,
        NEXT_DAY_VALIDATION_HISTORY,
        *(quarantine(t) for t in intake),
        *STAGING,
        FLIGHT_FEATURES,
        SCORING_FEATURES,
        ROUTE_HOUR_DAILY,
        FLIGHT_NUMBER_28D,
        PREDICTIONS,
        *MONITORING_TABLES,
        *MARTS,
    )


def by_name(qualified: str) -> LakeTable:
    """The registered table called ``layer.name`` (KeyError naming the known ones otherwise)."""
    for table in published():
        if table.qualified == qualified:
            return table
    known = ", ".join(t.qualified for t in published())
    raise KeyError(f"no lake table {qualified!r} is registered; known: {known}")
