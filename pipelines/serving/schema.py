"""The columns of a scored flight: the lake's ``scores.flight_delay_predictions`` and the
application's PostgreSQL table share them."""

from __future__ import annotations

import pyarrow as pa

PREDICTION_SCHEMA = pa.schema(
    [
        ("flight_date", pa.date32()),
        ("carrier", pa.string()),
        ("flight_number", pa.int32()),
        ("origin", pa.string()),
        ("dest", pa.string()),
        ("scheduled_departure", pa.timestamp("us")),
        ("probability", pa.float64()),
        ("risk_band", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("mlflow_run_id", pa.string()),
        # The day the model's training data ended: a scored day before it is in-sample.
        ("model_trained_as_of", pa.date32()),
    ]
)
