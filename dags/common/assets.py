"""Airflow Assets for the lake tables the DAGs produce and consume, from the table registry.

The URI names the table in the lake, not a path on one machine, so the same asset means the same
table on a laptop and in production. Each asset's group is its layer (``raw``, ``quarantine``,
``quality``, ``features``, ``scores``, ``monitoring``; ``warehouse`` and ``registry`` for the
others), which the UI's asset list groups by. The tasks stamp every event with the partitions
they wrote and their rows (``pipelines.tasks.common.announces``).
"""

from __future__ import annotations

from airflow.sdk import Asset

from pipelines import tables


def lake_table(table: tables.LakeTable) -> Asset:
    return Asset(
        name=table.qualified,
        uri=f"nightshift://lake/{table.layer}/{table.name}",
        group=table.layer,
    )


RAW = [lake_table(tables.raw(t)) for t in tables.SOURCE_TABLES]
QUARANTINE = [lake_table(tables.quarantine(t)) for t in tables.SOURCE_TABLES]
VALIDATION_RESULTS = lake_table(tables.VALIDATION_RESULTS)
VALIDATION_HISTORY = lake_table(tables.VALIDATION_HISTORY)
NEXT_DAY_VALIDATION = [
    lake_table(tables.NEXT_DAY_VALIDATION_RESULTS),
    lake_table(tables.NEXT_DAY_VALIDATION_HISTORY),
]
FLIGHT_FEATURES = lake_table(tables.FLIGHT_FEATURES)
WAREHOUSE = Asset(name="warehouse", uri="nightshift://warehouse/catalog", group="warehouse")
# Registered versions of the flight_delay model (the MLflow registry, not a lake table).
MODEL_REGISTRY = Asset(
    name="models.flight_delay", uri="nightshift://registry/flight_delay", group="registry"
)
NEXT_DAY_RAW = [lake_table(tables.raw(t)) for t in tables.NEXT_DAY_TABLES]
PREDICTIONS = lake_table(tables.PREDICTIONS)
MONITORING = [lake_table(t) for t in tables.MONITORING_TABLES]
# Emitted only when a monitoring threshold is crossed; flight_delay_training is scheduled on it.
MODEL_ALERT = Asset(
    name="models.flight_delay_alert",
    uri="nightshift://registry/flight_delay/alert",
    group="registry",
)
