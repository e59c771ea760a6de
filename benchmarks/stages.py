"""One benchmark stage in its own process: ``python -m benchmarks.stages STAGE ...``.

``benchmarks/bench.py`` starts one process per stage, so the peak memory it reads for that
process (``os.wait4``) is the stage's alone. Each stage is the public function a DAG task calls,
with explicit paths; the process writes ``--result`` (JSON: rows, seconds of the call alone, peak
RSS before the call, i.e. the interpreter and imports, peak RSS after it, and the stage's own
summary) and exits 1 on an exception, with its message in the result.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipelines import tables
from pipelines.dates import Interval
from pipelines.settings import REPO_ROOT, Settings

SQL_ROOT = REPO_ROOT / "sql"
# The bench model: trained as of the benchmark day on the 1x data, on a short window (the history
# the generator writes), then promoted by the real rule.
TRAIN_HISTORY_DAYS = 48
TRAIN_WINDOW_DAYS = 20
TRAIN_HOLDOUT_DAYS = 3

Stage = Callable[[argparse.Namespace], tuple[int, dict[str, Any]]]


def _interval(a: argparse.Namespace) -> Interval:
    return Interval.day(a.day)


def _resources() -> Any:
    """The DuckDB memory limit and spill directory a deployment sets (NIGHTSHIFT_DUCKDB_*)."""
    return Settings().duckdb_resources()


def _history_start(a: argparse.Namespace) -> date:
    return a.day - timedelta(days=a.history_days)


def _source(a: argparse.Namespace) -> Any:
    """The landing files under ``--root``, or the PostgreSQL source at ``--source-dsn`` (loaded by
    ``benchmarks/scale.py --postgres``)."""
    if a.source_dsn:
        from pipelines.ingest.sources.postgres import PostgresSource

        return PostgresSource(a.source_dsn)
    from pipelines.ingest.sources.files import FilesSource

    return FilesSource(a.root / "landing")


def extract_actuals(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    from pipelines.ingest.extract import extract

    summary = extract(_source(a), a.root / "lake", _interval(a), a.run_id)
    return summary.rows["flights"], asdict(summary)


def validate_actuals(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    from pipelines.ingest.validate import validate_and_publish

    bounds = Settings().row_count_bounds()
    summary = validate_and_publish(
        a.root / "lake", _interval(a), a.run_id, bounds, resources=_resources()
    )
    day = summary.days[0]
    return day.rows["flights"], {"rows": day.rows, "warnings": day.warnings, "bounds": str(bounds)}


def features(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    from pipelines.features.build import build_flight_features

    built = build_flight_features(
        a.root / "lake",
        SQL_ROOT,
        _interval(a),
        a.run_id,
        _history_start(a),
        resources=_resources(),
    )
    return built.rows, asdict(built)


def extract_feeds(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    from pipelines.ingest.extract import extract

    summary = extract(_source(a), a.root / "lake", _interval(a), a.run_id, tables.NEXT_DAY_TABLES)
    return summary.rows["schedule"], asdict(summary)


def validate_feeds(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    from pipelines.ingest.validate import validate_and_publish

    summary = validate_and_publish(
        a.root / "lake",
        _interval(a),
        a.run_id,
        Settings().row_count_bounds(),
        source_tables=tables.NEXT_DAY_TABLES,
        results=tables.NEXT_DAY_VALIDATION_RESULTS,
        resources=_resources(),
    )
    day = summary.days[0]
    return day.rows["schedule"], {"rows": day.rows, "warnings": day.warnings}


def score(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    from pipelines.serving.scoring import score_day

    summary = score_day(
        a.root / "lake",
        SQL_ROOT,
        a.tracking_uri,
        a.day,
        a.run_id,
        history_start=_history_start(a),
        resources=_resources(),
    )
    return summary.rows, asdict(summary)


def publish(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    from pipelines.serving.publish import publish_predictions
    from pipelines.storage import lake

    # The partition's file, streamed in batches (never the whole day in memory).
    predictions = lake.open_partition(a.root / "lake", *tables.PREDICTIONS.address, a.day)
    summary = publish_predictions(a.publish_dsn, a.publish_schema, a.day, predictions)
    return summary.upserted, asdict(summary)


def prepare_publish(a: argparse.Namespace) -> None:
    """An empty application schema (not timed): every measurement is a first publish of the day."""
    import psycopg
    from psycopg import sql

    from pipelines.ingest.sources.postgres import ensure_database

    admin, database = a.publish_dsn.rsplit("/", 1)
    ensure_database(f"{admin}/postgres", database)
    with psycopg.connect(a.publish_dsn, autocommit=True) as conn:
        drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(a.publish_schema))
        conn.execute(drop)


def train(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """A champion for scoring: 1x history into its own lake, features, fit, the promotion rule.

    The MLflow run is keyed on the pipeline run id, so a rerun for the same day reuses the
    registered version instead of refitting (delete the bench MLflow store to refit).
    """
    from benchmarks.scale import write_history
    from benchmarks.scale_keys import CopyKeys
    from pipelines.features.build import build_flight_features
    from pipelines.storage import registry
    from pipelines.training.config import TrainingConfig
    from pipelines.training.promotion import evaluate_and_promote
    from pipelines.training.train import train_challenger

    model_lake = a.root / "lake"
    first = a.day - timedelta(days=TRAIN_HISTORY_DAYS)
    write_history(model_lake, a.day, CopyKeys.for_scale(1), TRAIN_HISTORY_DAYS)
    window = Interval(a.day - timedelta(days=TRAIN_WINDOW_DAYS), a.day)
    built = build_flight_features(model_lake, SQL_ROOT, window, a.run_id, first)
    config = TrainingConfig(window_days=TRAIN_WINDOW_DAYS, holdout_days=TRAIN_HOLDOUT_DAYS)
    trained = train_challenger(model_lake, a.tracking_uri, a.artifacts, a.day, config, a.run_id)
    holdout = Interval.of(*trained.holdout)
    promoted = evaluate_and_promote(
        model_lake,
        a.tracking_uri,
        trained.version,
        holdout,
        a.day,
        config.promotion_margin,
        a.run_id,
    )
    champion = registry.require_champion(registry.client(a.tracking_uri), trained.model_name)
    detail = {
        "version": trained.version,
        "decision": promoted.decision,
        "reason": promoted.reason,
        "champion_version": str(champion.version),
        "holdout_roc_auc": trained.metrics["roc_auc"],
        "baseline_roc_auc": trained.baseline["roc_auc"],
    }
    return built.rows, detail


def prepare_damaged(a: argparse.Namespace) -> None:
    """The damaged copy of the landing zone (not timed: the stage times extract and validate)."""
    from benchmarks.damage import damage_landing

    a.damage = damage_landing(a.root / "landing", a.root / "landing-damaged", a.day, a.damaged_rows)


def damaged(a: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Extract and validate the damaged day: it must be blocked with the evidence of a small
    day, its quarantine must hold the offending rows only, and the published day stay as it was.
    Raises (the stage fails) when any of that does not hold."""
    from pipelines.ingest.extract import extract
    from pipelines.ingest.sources.files import FilesSource
    from pipelines.ingest.validate import DataValidationError, validate_and_publish
    from pipelines.storage import lake

    root, flights = a.root / "lake", tables.raw("flights").address
    published = lake.partition_file(root, *flights, a.day)
    if published is None:
        raise LookupError(f"raw.flights dt={a.day} is not published: run the validate stage first")
    extract(FilesSource(a.damage.landing), root, _interval(a), a.run_id, ("flights",))
    try:
        validate_and_publish(
            root,
            _interval(a),
            a.run_id,
            Settings().row_count_bounds(),
            resources=_resources(),
            source_tables=("flights",),
        )
        raise AssertionError(f"a day with {a.damage.offending_rows} offending rows was published")
    except DataValidationError as exc:
        blocked = str(exc)
    results = lake.read_partition(root, *tables.VALIDATION_RESULTS.address, a.day).to_pylist()
    failed = {
        r["check_name"]: r["unexpected_count"]
        for r in results
        if r["pipeline_run_id"] == a.run_id and r["table_name"] == "flights" and not r["success"]
    }
    quarantined = lake.read_partition(root, *tables.quarantine("flights").address, a.day)
    detail = {
        "damaged_rows": a.damaged_rows,
        "blocked": blocked,
        "failed_checks": failed,
        "quarantined_rows": quarantined.num_rows,
        "offending_rows": a.damage.offending_rows,
        "published_unchanged": lake.partition_file(root, *flights, a.day) == published,
    }
    expected = {"dep_time.hhmm": a.damage.bad_clock_rows}
    if any(failed.get(check) != count for check, count in expected.items()) or not any(
        name.startswith("key.unique") for name in failed
    ):
        raise AssertionError(f"not the checks the damage breaks: {detail}")
    if quarantined.num_rows != a.damage.offending_rows or not detail["published_unchanged"]:
        raise AssertionError(f"evidence not as a small day's: {detail}")
    return a.damage.rows_in_file, detail


_VALIDATION = ("pipelines.ingest.validate", "pipelines.ingest.validation.runner")
_TRAINING = ("benchmarks.scale", "pipelines.training.train", "pipelines.training.promotion")
# Each stage, and the modules it imports (before the clock starts: the call alone is timed).
STAGES: dict[str, tuple[Stage, tuple[str, ...]]] = {
    "extract": (extract_actuals, ("pipelines.ingest.extract",)),
    "validate": (validate_actuals, _VALIDATION),
    "features": (features, ("pipelines.features.build",)),
    "extract_feeds": (extract_feeds, ("pipelines.ingest.extract",)),
    "validate_feeds": (validate_feeds, _VALIDATION),
    "score": (score, ("pipelines.serving.scoring", "mlflow.sklearn")),
    "publish": (publish, ("pipelines.serving.publish",)),
    "train": (train, (*_TRAINING, "mlflow.sklearn")),
    "damaged": (damaged, (*_VALIDATION, "pipelines.ingest.extract")),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--root", type=Path, required=True, help="holds landing/ and lake/")
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--history-days", type=int, default=28)
    parser.add_argument("--run-id", default="bench")
    parser.add_argument("--tracking-uri", default="")
    parser.add_argument("--artifacts", type=Path)
    parser.add_argument(
        "--source-dsn", default="", help="extract from this PostgreSQL source, not landing files"
    )
    parser.add_argument("--publish-dsn", default="")
    parser.add_argument("--publish-schema", default="bench")
    parser.add_argument("--damaged-rows", type=int, default=300, help="damaged: rows per kind")
    parser.add_argument("--result", type=Path, required=True)
    a = parser.parse_args(argv)
    # The stage's own log lines (what it counted, kept or skipped) go to the stage's log file.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stage, modules = STAGES[a.stage]
    for module in modules:
        importlib.import_module(module)
    if a.stage == "publish":
        prepare_publish(a)
    if a.stage == "damaged":
        prepare_damaged(a)
    result: dict[str, Any] = {
        "stage": a.stage,
        "rss_before_call_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    started = time.perf_counter()
    try:
        result["rows"], result["detail"] = stage(a)
        result["status"] = "ok"
    except Exception as exc:  # recorded for the report, then the process fails
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    a.result.parent.mkdir(parents=True, exist_ok=True)
    a.result.write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
