"""A scored flight's row, from its scoring features and the model's probability: one function,
so the batch's partition and an on-demand answer are made alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import models.flight_delay as fd
from pipelines.serving.schema import PREDICTION_SCHEMA


def predictions_table(
    features: pa.Table | pa.RecordBatch, probabilities, version, *, by_departure: bool = True
) -> pa.Table:
    """The predictions of ``features`` (scoring features: a table or one batch), by departure
    (``by_departure=False``: in the features' order, as the batch writes them)."""
    p = np.asarray(probabilities, dtype=np.float64)
    n = len(p)
    midnight = pc.cast(features.column("flight_date"), pa.timestamp("us"))
    minutes = pc.cast(features.column("sched_dep_minute_of_day"), pa.int64())
    trained = (version.tags or {}).get("data.as_of")
    columns = {
        **{c: features.column(c) for c in (*fd.KEY, "dest")},
        "scheduled_departure": pc.add(
            midnight, pc.cast(pc.multiply(minutes, 60_000_000), pa.duration("us"))
        ),
        "probability": pa.array(p),
        "risk_band": pa.array(fd.risk_bands(p), pa.string()),
        "model_name": _constant(fd.MODEL_NAME, n),
        "model_version": _constant(str(version.version), n),
        "mlflow_run_id": _constant(version.run_id or "", n),
        "model_trained_as_of": (
            pa.array(np.full(n, np.datetime64(trained, "D")), pa.date32())
            if trained
            else pa.nulls(n, pa.date32())
        ),
    }
    table = pa.table(columns).select(PREDICTION_SCHEMA.names).cast(PREDICTION_SCHEMA)
    if not by_departure:
        return table
    departure = [("scheduled_departure", "ascending"), *((k, "ascending") for k in fd.KEY[1:])]
    return table.take(pc.sort_indices(table, sort_keys=departure))


def _constant(value: str, rows: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), rows)


def scored_batch(
    features: pa.RecordBatch, model: Any, version: Any, bands: dict[str, int]
) -> pa.RecordBatch:
    """The predictions of one batch of scoring features, in its order; adds the batch's risk
    bands to ``bands``."""
    table = predictions_table(features, fd.predict(model, features), version, by_departure=False)
    counted = pc.value_counts(table.column("risk_band"))
    for band, count in zip(
        counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
    ):
        bands[band] += count
    return table.combine_chunks().to_batches()[0] if table.num_rows else _empty()


def _empty() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=PREDICTION_SCHEMA)
