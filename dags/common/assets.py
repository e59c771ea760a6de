"""Airflow Assets for the lake tables the DAGs produce and consume.

The URI names the table in the lake, not a path on one machine, so the same asset means the same
table on a laptop and in production.
"""

from __future__ import annotations

from airflow.sdk import Asset


def lake_table(layer: str, table: str) -> Asset:
    return Asset(name=f"{layer}.{table}", uri=f"nightshift://lake/{layer}/{table}")


SOURCE_TABLES = ("flights", "weather", "planes", "airports", "airlines")

RAW = [lake_table("raw", t) for t in SOURCE_TABLES]
QUARANTINE = [lake_table("quarantine", t) for t in SOURCE_TABLES]
VALIDATION_RESULTS = lake_table("quality", "validation_results")
FLIGHT_FEATURES = lake_table("features", "flight_features")
WAREHOUSE = Asset(name="warehouse", uri="nightshift://warehouse/catalog")
# Registered versions of the flight_delay model (the MLflow registry, not a lake table).
MODEL_REGISTRY = Asset(name="models.flight_delay", uri="nightshift://registry/flight_delay")
NEXT_DAY_RAW = [lake_table("raw", t) for t in ("schedule", "weather_forecast")]
PREDICTIONS = lake_table("scores", "flight_delay_predictions")
MONITORING = [
    lake_table("monitoring", t)
    for t in ("model_performance_daily", "calibration_by_band_daily", "feature_drift_daily")
]
# Emitted only when a monitoring threshold is crossed; flight_delay_training is scheduled on it.
MODEL_ALERT = Asset(
    name="models.flight_delay_alert", uri="nightshift://registry/flight_delay/alert"
)
