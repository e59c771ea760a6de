"""A plain pandas reference of extract -> features -> score, to check and to time the pipeline by.

    .venv/bin/python -m benchmarks.pandas_reference --root data/bench/scale-10 --day 2013-06-03 \\
        --tracking-uri sqlite:///data/bench/mlflow.db --result /tmp/reference.json

Scores day D the way ``score_day`` does, without DuckDB, the lake's SQL or validation: it reads the
next-day feeds of D (schedule, weather forecast) and the planes snapshot from the landing CSVs with
``pandas.read_csv``, the 28 days of outcomes and weather before D from the ``raw`` Parquet files
(where the scale generator wrote them), computes ``sql/features/flight_features.sql`` in pandas
(:func:`flight_features`, one block per CTE of that file), and scores with the same champion through
scikit-learn's own ``predict_proba`` (the pipeline's ``models.flight_delay.predict`` walks the trees
over binned rows instead, equal to the last bit). Then it compares its features and probabilities
with the pipeline's ``features.scoring_features`` and ``scores.flight_delay_predictions`` of D (same
keys, values within 1e-9) and writes timings and mismatches to ``--result``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import time
import traceback
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import models.flight_delay as fd
from pipelines import tables
from pipelines.history import HISTORY_DAYS
from pipelines.storage import lake, registry

TOLERANCE = 1e-9
PRIOR_RATE, PRIOR_WEIGHT = 0.2, 20.0
KEY = ["carrier", "flight_number", "origin"]
STRINGS = {c: "str" for c in ("carrier", "tailnum", "origin", "dest", "type", "manufacturer")}


def read_landing(landing: Path, table: str, day: date) -> pd.DataFrame:
    """A landing CSV as the contract reads it: only an empty field is null."""
    frame = pd.read_csv(
        landing / table / f"{day}.csv", keep_default_na=False, na_values=[""], dtype=STRINGS
    )
    if "time_hour" in frame.columns:
        frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    return frame


def read_raw(lake_root: Path, table: str, days: list[date], columns: list[str]) -> pd.DataFrame:
    """The ``raw`` partitions of ``days`` that exist, with their day as ``dt``."""
    parts = []
    for day in days:
        path = lake.partition_file(lake_root, *tables.raw(table).address, day)
        if path is not None:
            parts.append(pd.read_parquet(path, columns=columns).assign(dt=pd.Timestamp(day)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*columns, "dt"])


def smoothed(delayed: pd.Series, flights: pd.Series, rate: float) -> pd.Series:
    """sql/macros/smoothed_rate.sql."""
    return (delayed.fillna(0) + rate * PRIOR_WEIGHT) / (flights.fillna(0) + PRIOR_WEIGHT)


def _rates(history: pd.DataFrame, by: list[str], days: int) -> pd.DataFrame:
    """Flights and delayed flights per group over the last ``days`` days (1: the day before)."""
    before = history["days_before"]
    within = history[before == 1] if days == 1 else history[before <= days]
    grouped = within.groupby(by)["is_delayed"]
    rates = pd.DataFrame({f"n_{days}d": grouped.size(), f"delayed_{days}d": grouped.sum()})
    return rates.reset_index()


def flight_features(
    day: date,
    schedule: pd.DataFrame,
    flights: pd.DataFrame,
    weather: pd.DataFrame,
    planes: pd.DataFrame,
) -> pd.DataFrame:
    """``sql/features/flight_features.sql`` for ``day``: ``schedule`` holds the day's planned
    flights (with ``arr_delay`` if known), ``flights`` the outcomes of earlier days (with ``dt``),
    ``weather`` the hourly rows of the day before and the day (with ``dt``)."""
    # schedule (staging.stg_flight_schedule)
    s = pd.DataFrame(
        {
            "flight_date": day,
            "carrier": schedule["carrier"],
            "flight_number": schedule["flight"].astype("int64"),
            "origin": schedule["origin"],
            "dest": schedule["dest"],
            "tailnum": schedule["tailnum"],
            "sched_dep_hour_utc": schedule["time_hour"],
            "sched_dep_hour": schedule["hour"].astype("int64"),
            "sched_dep_minute_of_day": schedule["hour"] * 60 + schedule["minute"],
            "weekday": day.isoweekday(),
            "month": day.month,
            "day_of_year": day.timetuple().tm_yday,
            "distance_miles": schedule["distance"].astype("float64"),
        }
    )
    arrival = schedule["sched_arr_time"] // 100 * 60 + schedule["sched_arr_time"] % 100
    s["sched_block_minutes"] = (arrival - s["sched_dep_minute_of_day"] + 1440) % 1440
    s["origin_departures_same_hour"] = s.groupby(["origin", "sched_dep_hour"])["carrier"].transform(
        "size"
    )
    s["origin_departures_day"] = s.groupby("origin")["carrier"].transform("size")
    legs = s[s["tailnum"].notna()].sort_values(
        ["tailnum", "sched_dep_minute_of_day", "carrier", "flight_number"], kind="stable"
    )
    s["tail_leg_of_day"] = (legs.groupby("tailnum").cumcount() + 1).reindex(s.index)

    # history: outcomes of the 28 days before, with a label
    h = flights[flights["arr_delay"].notna()].rename(
        columns={"flight": "flight_number", "hour": "sched_dep_hour"}
    )
    h = h.assign(days_before=(pd.Timestamp(day) - h["dt"]).dt.days, is_delayed=h["arr_delay"] > 15)
    h = h[(h["days_before"] >= 1) & (h["days_before"] <= HISTORY_DAYS)]
    rate = float(h["is_delayed"].mean()) if len(h) else PRIOR_RATE

    def joined(by: list[str], *windows: int) -> pd.DataFrame:
        """The schedule's rows with their group's counts (missing groups: NaN, as a left join)."""
        found = s[by]
        for days in windows:
            found = found.merge(_rates(h, by, days), how="left", on=by)
        return found

    carrier = joined(["carrier"], 7, 28)
    origin = joined(["origin"], 1, 7)
    s["carrier_delay_rate_7d"] = smoothed(carrier["delayed_7d"], carrier["n_7d"], rate)
    s["carrier_delay_rate_28d"] = smoothed(carrier["delayed_28d"], carrier["n_28d"], rate)
    recent = h[h["days_before"] <= 7].groupby("carrier")["dep_delay"].mean()
    s["carrier_mean_dep_delay_7d"] = s["carrier"].map(recent)
    s["origin_delay_rate_1d"] = smoothed(origin["delayed_1d"], origin["n_1d"], rate)
    s["origin_delay_rate_7d"] = smoothed(origin["delayed_7d"], origin["n_7d"], rate)
    yesterday = h[h["days_before"] == 1].groupby("origin")["dep_delay"].mean()
    s["origin_mean_dep_delay_1d"] = s["origin"].map(yesterday)
    for name, by in (
        ("origin_hour", ["origin", "sched_dep_hour"]),
        ("dest", ["dest"]),
        ("route", ["origin", "dest"]),
        ("flight_number", ["carrier", "flight_number"]),
    ):
        group = joined(by, 28)
        s[f"{name}_delay_rate_28d"] = smoothed(group["delayed_28d"], group["n_28d"], rate)
        if name == "route":
            s["route_flights_28d"] = group["n_28d"].fillna(0).astype("int64")
    s["all_flights_delay_rate_28d"] = rate

    # planes (the newest snapshot on or before the day: the caller's)
    plane = s[["tailnum"]].merge(planes, how="left", on="tailnum")
    s["plane_age_years"] = day.year - plane["year"]
    s["plane_seats"] = plane["seats"]
    s["plane_engines"] = plane["engines"]

    # weather, with the precipitation of the hour and the three before it
    w = weather.sort_values(["origin", "time_hour"], kind="stable").reset_index(drop=True)
    # RANGE BETWEEN INTERVAL 3 HOURS PRECEDING AND CURRENT ROW, per origin
    w["precip_4h"] = w.groupby("origin", group_keys=False)[["time_hour", "precip"]].apply(
        lambda g: g.rolling("3h", on="time_hour", closed="both")["precip"].sum()
    )
    hour = s[["origin", "sched_dep_hour_utc"]].merge(
        w, how="left", left_on=["origin", "sched_dep_hour_utc"], right_on=["origin", "time_hour"]
    )
    columns = {
        "wx_temp_f": "temp",
        "wx_dewpoint_f": "dewp",
        "wx_humidity_pct": "humid",
        "wx_wind_speed_mph": "wind_speed",
        "wx_wind_gust_mph": "wind_gust",
        "wx_precip_in": "precip",
        "wx_pressure_mb": "pressure",
        "wx_visibility_mi": "visib",
        "wx_precip_4h_in": "precip_4h",
    }
    for feature, column in columns.items():
        s[feature] = hour[column].to_numpy()
    today = w[w["dt"] == pd.Timestamp(day)]
    by_origin = today.groupby("origin")
    daily = pd.DataFrame(
        {
            "wx_day_precip_in": by_origin["precip"].sum(min_count=1),
            "wx_day_precip_hours": (today["precip"] > 0).groupby(today["origin"]).sum(),
            "wx_day_min_visibility_mi": by_origin["visib"].min(),
            "wx_day_max_wind_speed_mph": by_origin["wind_speed"].max(),
        }
    )
    for feature in daily.columns:
        s[feature] = s["origin"].map(daily[feature])

    # label: the flight's own outcome, null until known
    arrival_delay = schedule.get("arr_delay", np.nan)
    s["label_arr_delay_minutes"] = arrival_delay
    s["label_is_delayed"] = (
        s["label_arr_delay_minutes"].gt(15).where(s["label_arr_delay_minutes"].notna())
    )
    return s.sort_values(KEY, kind="stable").reset_index(drop=True)


def mismatches(reference: pd.DataFrame, pipeline: pd.DataFrame) -> dict[str, Any]:
    """Keys on one side only, and per column the rows whose values differ beyond the tolerance."""
    both = reference.merge(
        pipeline, on=KEY, how="outer", suffixes=("", "_pipeline"), indicator=True
    )
    found: dict[str, Any] = {
        "only_reference": int((both["_merge"] == "left_only").sum()),
        "only_pipeline": int((both["_merge"] == "right_only").sum()),
        "columns": {},
        "columns_compared": 0,
    }
    both = both[both["_merge"] == "both"]
    if "probability" in reference.columns:
        difference = (both["probability"] - both["probability_pipeline"]).abs().max()
        found["max_abs_difference"] = float(difference) if len(both) else None
    for column in reference.columns:
        other = f"{column}_pipeline"
        if column in KEY or other not in both:
            continue
        a, b = both[column], both[other]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            x, y = a.astype("float64").to_numpy(), b.astype("float64").to_numpy()
            differ = ~(np.isclose(x, y, rtol=0, atol=TOLERANCE) | (np.isnan(x) & np.isnan(y)))
        else:
            differ = ~((a == b) | (a.isna() & b.isna())).to_numpy(dtype=bool)
        found["columns_compared"] += 1
        if differ.any():
            found["columns"][column] = int(differ.sum())
    return found


def read_inputs(
    landing: Path, lake_root: Path, day: date, feeds: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What scoring ``day`` reads, as :func:`flight_features` takes it: the next-day feeds (or,
    not ``feeds``, the day's actual flights and weather) and the planes snapshot of ``day`` from
    the landing CSVs; outcomes of the 28 days before and the weather of the day before from the
    ``raw`` Parquet files."""
    schedule = read_landing(landing, "schedule" if feeds else "flights", day)
    hourly = "weather_forecast" if feeds else "weather"
    forecast = read_landing(landing, hourly, day).assign(dt=pd.Timestamp(day))
    planes = read_landing(landing, "planes", day)
    before = [day - timedelta(days=d) for d in range(HISTORY_DAYS, 0, -1)]
    outcome_columns = ["carrier", "flight", "origin", "dest", "hour", "dep_delay", "arr_delay"]
    flights = read_raw(lake_root, "flights", before, outcome_columns)
    observed = read_raw(lake_root, "weather", before[-1:], list(forecast.columns[:-1]))
    weather = pd.concat([observed, forecast], ignore_index=True)
    return schedule, flights, weather, planes


def run(root: Path, day: date, tracking_uri: str) -> dict[str, Any]:
    lake_root, landing = root / "lake", root / "landing"
    phases: dict[str, float] = {}
    started = time.perf_counter()
    inputs = read_inputs(landing, lake_root, day)
    phases["read"] = time.perf_counter() - started
    started = time.perf_counter()
    features = flight_features(day, *inputs)
    phases["features"] = time.perf_counter() - started
    started = time.perf_counter()
    champion = registry.require_champion(registry.client(tracking_uri), fd.MODEL_NAME)
    model = registry.load_sklearn(fd.MODEL_NAME, champion.version)
    plain = model.predict_proba(fd.model_input(model, features))[:, 1]
    scored = features[KEY].assign(probability=plain)
    phases["score"] = time.perf_counter() - started
    result: dict[str, Any] = {
        "rows": len(features),
        "seconds": round(sum(phases.values()), 3),
        "phases": {k: round(v, 3) for k, v in phases.items()},
        "model_version": str(champion.version),
        "history_rows": len(inputs[1]),
    }
    for name, mine, table in (
        ("features", features, tables.SCORING_FEATURES),
        ("predictions", scored, tables.PREDICTIONS),
    ):
        if not lake.has_partition(lake_root, *table.address, day):
            result[f"{name}_compared"] = f"no pipeline partition {table} dt={day} to compare with"
            continue
        pipeline = lake.read_partition(lake_root, *table.address, day).to_pandas()
        result[f"{name}_compared"] = mismatches(mine, pipeline)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="holds landing/ and lake/")
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    importlib.import_module("mlflow.sklearn")  # before the clock, as the pipeline's stage does
    result: dict[str, Any] = {
        "stage": "reference",
        "rss_before_call_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    try:
        result.update(run(args.root, args.day, args.tracking_uri), status="ok")
    except Exception as exc:  # recorded for the report, then the process fails
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
