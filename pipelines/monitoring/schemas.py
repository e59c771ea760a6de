"""The Arrow schemas of the monitoring tables (documented in ``sql/dictionary.yml``)."""

from __future__ import annotations

import pyarrow as pa

from pipelines import tables

SCHEMAS = {
    tables.MODEL_PERFORMANCE_DAILY: pa.schema(
        [
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("flights_scored", pa.int64()),
            ("flights_labelled", pa.int64()),
            ("roc_auc", pa.float64()),
            ("pr_auc", pa.float64()),
            ("brier", pa.float64()),
            ("log_loss", pa.float64()),
            ("predicted_delay_rate", pa.float64()),
            ("actual_delay_rate", pa.float64()),
            ("in_sample", pa.bool_()),
        ]
    ),
    tables.CALIBRATION_BY_BAND_DAILY: pa.schema(
        [
            ("model_version", pa.string()),
            ("risk_band", pa.string()),
            ("flights_labelled", pa.int64()),
            ("mean_probability", pa.float64()),
            ("actual_delay_rate", pa.float64()),
        ]
    ),
    tables.PERFORMANCE_BY_SLICE_DAILY: pa.schema(
        [
            ("model_version", pa.string()),
            ("slice", pa.string()),
            ("value", pa.string()),
            ("flights_labelled", pa.int64()),
            ("mean_probability", pa.float64()),
            ("actual_delay_rate", pa.float64()),
            ("brier", pa.float64()),
            ("roc_auc", pa.float64()),
        ]
    ),
    tables.FEATURE_DRIFT_DAILY: pa.schema(
        [
            ("model_version", pa.string()),
            ("feature", pa.string()),
            ("feed", pa.string()),
            ("measure", pa.string()),
            ("psi", pa.float64()),
            ("missing_share", pa.float64()),
            ("reference_missing_share", pa.float64()),
            ("day_mean", pa.float64()),
            ("previous_day_mean", pa.float64()),
            ("reference_low", pa.float64()),
            ("reference_high", pa.float64()),
            ("max_reference_step", pa.float64()),
            ("drifted", pa.bool_()),
            ("finding", pa.string()),
            ("note", pa.string()),
            # JSON: bin labels, reference and current shares (and training's daily means).
            ("distribution", pa.string()),
        ]
    ),
    tables.FINDINGS_DAILY: pa.schema(
        [
            ("kind", pa.string()),
            ("subject", pa.string()),
            ("item", pa.string()),
            ("severity", pa.string()),
            ("remedy", pa.string()),
            ("message", pa.string()),
            ("value", pa.float64()),
            ("threshold", pa.float64()),
            ("model_version", pa.string()),
        ]
    ),
    tables.CHECKS_DAILY: pa.schema([("kind", pa.string()), ("checked", pa.bool_())]),
    tables.ALERTS: pa.schema(
        [
            ("incident_id", pa.string()),
            ("kind", pa.string()),
            ("subject", pa.string()),
            ("severity", pa.string()),
            ("status", pa.string()),
            ("opened_on", pa.date32()),
            ("last_seen_on", pa.date32()),
            ("resolved_on", pa.date32()),
            ("days_seen", pa.int64()),
            ("remedy", pa.string()),
            ("summary", pa.string()),
            ("evidence", pa.string()),
            ("retrain_requested_on", pa.date32()),
        ]
    ),
}
