"""What the flight_delay model reads and says: its name, key, label, feature columns, risk bands.

Plain definitions, without scikit-learn: the stages that only need the model's columns (drift,
monitoring) import this, and :mod:`models.flight_delay` re-exports every name.
"""

from __future__ import annotations

import numpy as np

MODEL_NAME = "flight_delay"
SEED = 20130101
LABEL = "label_is_delayed"
KEY = ["flight_date", "carrier", "flight_number", "origin"]

CATEGORICAL = ["carrier", "origin", "dest"]
NUMERIC = [
    "sched_dep_hour",
    "sched_dep_minute_of_day",
    "weekday",
    "distance_miles",
    "sched_block_minutes",
    "origin_departures_same_hour",
    "origin_departures_day",
    "tail_leg_of_day",
    "carrier_delay_rate_7d",
    "carrier_delay_rate_28d",
    "carrier_mean_dep_delay_7d",
    "origin_delay_rate_1d",
    "origin_delay_rate_7d",
    "origin_mean_dep_delay_1d",
    "origin_hour_delay_rate_28d",
    "dest_delay_rate_28d",
    "route_delay_rate_28d",
    "route_flights_28d",
    "flight_number_delay_rate_28d",
    "all_flights_delay_rate_28d",
    "plane_age_years",
    "plane_seats",
    "plane_engines",
    "wx_temp_f",
    "wx_dewpoint_f",
    "wx_humidity_pct",
    "wx_wind_speed_mph",
    "wx_wind_gust_mph",
    "wx_precip_in",
    "wx_pressure_mb",
    "wx_visibility_mi",
    "wx_precip_4h_in",
    "wx_day_precip_in",
    "wx_day_precip_hours",
    "wx_day_min_visibility_mi",
    "wx_day_max_wind_speed_mph",
]
# Not features, on purpose: `month` and `day_of_year`. A model trained on January-September sees
# no October values and extrapolates September's; seasonality reaches the model through the
# trailing delay rates instead (measured: +0.01 holdout ROC-AUC without them).
FEATURES = CATEGORICAL + NUMERIC

# The naive baseline a model must beat: the route's smoothed trailing delay rate.
BASELINE_FEATURE = "route_delay_rate_28d"
# The baseline's fallback when a route has no history: the trailing rate of all flights, then the
# same 20% prior the feature SQL smooths toward.
PRIOR_DELAY_RATE = 0.2

# Risk bands of a predicted probability (about 22% of flights are delayed): lower bound -> band.
# Analysts and the application read the band; monitoring reports calibration per band.
RISK_BANDS = [(0.0, "low"), (0.2, "medium"), (0.4, "high")]


def risk_band(probability: float) -> str:
    band = RISK_BANDS[0][1]
    for lower, name in RISK_BANDS:
        if probability >= lower:
            band = name
    return band


def risk_bands(probabilities: np.ndarray) -> np.ndarray:
    """:func:`risk_band` of every probability at once (a NaN, like a value below 0, is low)."""
    lowers = np.array([lower for lower, _ in RISK_BANDS])
    names = np.array([name for _, name in RISK_BANDS], dtype=object)
    p = np.asarray(probabilities, dtype=np.float64)
    index = np.searchsorted(lowers, p, side="right") - 1
    return names[np.where(np.isnan(p), 0, np.maximum(index, 0))]
