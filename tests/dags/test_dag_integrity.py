"""DAG integrity: every DAG file parses, follows the conventions, and is cheap and inert to parse.

Fast and without a metadata DB: the DAGs are parsed the way the DAG processor does it
(``BundleDagBag`` with the dags folder as the bundle, so DAG files can import ``common``).
The parse-time hygiene checks run in a fresh interpreter, so modules this test process has
already imported cannot hide what a DAG file pulls in.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import BundleDagBag
from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
)
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import TimeRestriction

from pipelines.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO_ROOT / "dags"

EXPECTED_DAG_IDS = {"flights_daily", "flight_delay_training", "flight_delay_scoring"}
OWNER = "data-platform"
REQUIRED_TAG = "nightshift"
# Tasks that deliberately do not retry (deterministic work: the same input fails the same way).
NO_RETRY_TASKS = {"validate_and_publish", "validate_next_day", "fail_run_if_a_task_failed"}
# DAGs whose runs must each cover the period they are scheduled for, from the first one on.
CATCHUP_DAGS = {"flights_daily", "flight_delay_training", "flight_delay_scoring"}
# DAGs that process one day per run (the run at D+1 processes day D), and how many days after
# the schedule start their first run is (they need what earlier DAGs produce).
DAILY_DAGS = {"flights_daily": 0, "flight_delay_scoring": get_settings().scoring_lead_days}
HEAVY_MODULES = (
    "pandas",
    "duckdb",
    "great_expectations",
    "mlflow",
    "sklearn",
    "pyarrow",
    "psycopg",
    "adbc_driver_postgresql",
)
# Airflow's default [core] dagbag_import_timeout: a DAG file slower than this fails to import.
DAGBAG_IMPORT_TIMEOUT_SECONDS = 30.0
# The only module-level use of `pipelines` allowed under dags/: reading settings (env vars only).
ALLOWED_MODULE_LEVEL_PIPELINES_IMPORTS = {"common/defaults.py": {"pipelines.settings"}}


def _ignored_dirs() -> list[str]:
    """Directory entries of dags/.airflowignore (the DAG processor never parses them)."""
    ignore = DAGS_DIR / ".airflowignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    return [
        line.strip().rstrip("/")
        for line in lines
        if line.strip() and not line.strip().startswith("#") and line.strip().endswith("/")
    ]


def _dag_files() -> list[Path]:
    """The .py files of dags/ that the DAG processor parses (outside ignored directories)."""
    ignored = _ignored_dirs()
    files = []
    for path in sorted(DAGS_DIR.rglob("*.py")):
        rel = path.relative_to(DAGS_DIR).as_posix()
        if any(rel == d or rel.startswith(d + "/") for d in ignored) or "__pycache__" in rel:
            continue
        files.append(path)
    return files


@pytest.fixture(scope="module")
def dagbag() -> BundleDagBag:
    folder = str(DAGS_DIR)
    return BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")


@pytest.fixture(scope="module")
def dags(dagbag: BundleDagBag) -> dict:
    assert dagbag.dags, f"no DAGs parsed from {DAGS_DIR}"
    return dagbag.dags


# --- Parsing -----------------------------------------------------------------------------------


def test_no_import_errors(dagbag: BundleDagBag) -> None:
    assert dagbag.import_errors == {}, "\n".join(
        f"{path}:\n{error}" for path, error in dagbag.import_errors.items()
    )


def test_every_dag_file_is_parsed_and_defines_a_dag(dagbag: BundleDagBag) -> None:
    files = _dag_files()
    assert files, f"no DAG files found in {DAGS_DIR}"
    stats = {Path(s.file).as_posix(): s for s in dagbag.dagbag_stats}
    for path in files:
        rel = path.relative_to(DAGS_DIR).as_posix()
        assert rel in stats, f"{rel} was not parsed (parsed: {sorted(stats)})"
        assert stats[rel].dag_num >= 1, f"{rel} defines no DAG"


def test_shared_modules_are_not_parsed_as_dag_files(dagbag: BundleDagBag) -> None:
    assert "common" in _ignored_dirs(), "dags/.airflowignore must exclude common/"
    parsed = {Path(s.file).as_posix() for s in dagbag.dagbag_stats}
    assert not [p for p in parsed if p.startswith("common/")], parsed


def test_expected_dag_ids_exist(dags: dict) -> None:
    missing = EXPECTED_DAG_IDS - set(dags)
    assert not missing, f"missing DAGs {sorted(missing)}; found {sorted(dags)}"


# --- Conventions, for every DAG --------------------------------------------------------------


def test_owner_is_the_team(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag.default_args.get("owner") == OWNER, f"{dag_id}: default_args owner"
        for task in dag.tasks:
            assert task.owner == OWNER, f"{dag_id}.{task.task_id}: owner {task.owner!r}"


def test_tags(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert REQUIRED_TAG in dag.tags, f"{dag_id} tags {sorted(dag.tags)} lack {REQUIRED_TAG!r}"


def test_retries(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag.default_args.get("retries", 0) >= 1, f"{dag_id}: default retries must be >= 1"
        for task in dag.tasks:
            if task.task_id in NO_RETRY_TASKS:
                continue
            assert task.retries >= 1, f"{dag_id}.{task.task_id}: retries {task.retries}"


def test_validate_and_publish_does_not_retry(dags: dict) -> None:
    assert dags["flights_daily"].get_task("validate_and_publish").retries == 0


def test_doc_md_is_a_runbook(dags: dict) -> None:
    for dag_id, dag in dags.items():
        doc = dag.doc_md or ""
        assert doc.strip(), f"{dag_id} has no doc_md"
        assert "When it fails" in doc, f"{dag_id} doc_md lacks a 'When it fails' section"
        assert "backfill" in doc.lower(), f"{dag_id} doc_md does not say how to backfill"


def test_catchup(dags: dict) -> None:
    for dag_id in CATCHUP_DAGS:
        assert dags[dag_id].catchup is True, f"{dag_id}: catchup must be True"


def test_max_active_runs(dags: dict) -> None:
    for dag_id, dag in dags.items():
        assert dag.max_active_runs is not None and dag.max_active_runs > 0, (
            f"{dag_id}: max_active_runs {dag.max_active_runs!r}"
        )


def test_timetable_gives_one_day_data_intervals(dags: dict) -> None:
    for dag_id, lead_days in DAILY_DAGS.items():
        dag = dags[dag_id]
        # A bare cron string gives a zero-length interval in Airflow 3: the timetable must be one
        # that carries a real interval (a CronTriggerTimetable with interval=1 day here).
        assert isinstance(dag.timetable, CronTriggerTimetable | CronDataIntervalTimetable), (
            f"{dag_id}: timetable {type(dag.timetable).__name__}"
        )
        timetable = coerce_to_core_timetable(dag.timetable)
        settings = get_settings()
        start = settings.schedule_start + timedelta(days=lead_days)
        # Every scheduled run, start to end, as the scheduler would create them (catch-up).
        runs, info = [], None
        restriction = TimeRestriction(earliest=dag.start_date, latest=dag.end_date, catchup=True)
        while info := timetable.next_dagrun_info_v2(last_dagrun_info=info, restriction=restriction):
            runs.append(info)
        for run in runs:
            assert run.data_interval.end - run.data_interval.start == timedelta(days=1)
            assert run.data_interval.end == run.run_after
        # Airflow creates task instances only when the logical date (the interval start, day D)
        # is on or after start_date: the days that really run are exactly the schedule window.
        processed = [r.data_interval.start.date() for r in runs if r.logical_date >= dag.start_date]
        assert processed[0] == start, f"{dag_id}: the first day with tasks is {processed[0]}"
        assert processed[-1] == settings.schedule_end, f"{dag_id}: last day {processed[-1]}"
        assert len(processed) == (settings.schedule_end - start).days + 1
        for run_after in (
            datetime(2013, 1, 2, tzinfo=UTC),
            datetime(2013, 3, 11, tzinfo=UTC),  # the US DST switch: UTC days stay 24 h
            datetime(2013, 12, 31, tzinfo=UTC),
        ):
            interval = timetable.infer_manual_data_interval(run_after=run_after)
            assert interval.end - interval.start == timedelta(days=1), (
                f"{dag_id}: interval {interval} for run_after {run_after}"
            )
            # The run at midnight D+1 processes day D.
            assert interval.end == run_after, f"{dag_id}: {interval} for run_after {run_after}"


# --- flights_daily structure -------------------------------------------------------------------


def _outlet_names(task) -> set[str]:
    return {o.name for o in task.outlets if isinstance(o, Asset)}


def test_lake_writers_declare_asset_outlets(dags: dict) -> None:
    dag = dags["flights_daily"]
    publish = _outlet_names(dag.get_task("validate_and_publish"))
    missing = {"raw.flights", "raw.weather", "quality.validation_results"} - publish
    assert not missing, f"validate_and_publish outlets {sorted(publish)} lack {sorted(missing)}"
    features = _outlet_names(dag.get_task("build_features"))
    assert "features.flight_features" in features, features


def test_task_order(dags: dict) -> None:
    dag = dags["flights_daily"]
    chain = ["extract", "validate_and_publish", "build_features", "refresh_warehouse"]
    assert set(dag.task_ids) == set(chain)
    for upstream, downstream in itertools.pairwise(chain):
        assert dag.get_task(upstream).downstream_task_ids == {downstream}, upstream
    assert dag.get_task("extract").upstream_task_ids == set()
    assert dag.get_task("refresh_warehouse").downstream_task_ids == set()


def test_build_features_depends_on_past(dags: dict) -> None:
    assert dags["flights_daily"].get_task("build_features").depends_on_past is True


def test_start_end_params_default_to_none(dags: dict) -> None:
    params = dags["flights_daily"].params
    for name in ("start", "end"):
        assert name in params, f"param {name!r} missing: {list(params)}"
        assert params.get_param(name).value is None
        assert params[name] is None


# --- flight_delay_training structure ------------------------------------------------------------


def test_training_runs_weekly_on_monday_with_a_seven_day_interval(dags: dict) -> None:
    dag = dags["flight_delay_training"]
    # Weekly, or when monitoring raises the model alert.
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert isinstance(dag.timetable.timetable, CronTriggerTimetable)
    assert {a.name for a in dag.timetable.asset_condition.objects} == {"models.flight_delay_alert"}
    timetable = coerce_to_core_timetable(dag.timetable.timetable)
    first = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert first.run_after.weekday() == 0, first.run_after  # Monday 00:00 UTC
    assert first.data_interval.end == first.run_after
    assert first.data_interval.end - first.data_interval.start == timedelta(days=7)
    # Six weeks into the schedule: enough history for the default split to have data.
    assert first.run_after.date() >= get_settings().schedule_start + timedelta(days=42)
    # A manual trigger trains as of the moment it is triggered for.
    manual = timetable.infer_manual_data_interval(run_after=datetime(2013, 3, 1, tzinfo=UTC))
    assert manual.end == datetime(2013, 3, 1, tzinfo=UTC)


def test_training_tasks_and_params(dags: dict) -> None:
    dag = dags["flight_delay_training"]
    assert dag.get_task("wait_for_features").downstream_task_ids == {"train"}
    assert dag.get_task("train").downstream_task_ids == {"evaluate_and_promote"}
    assert dag.get_task("evaluate_and_promote").downstream_task_ids == set()
    sensor = dag.get_task("wait_for_features")
    assert sensor.mode == "reschedule", "a waiting sensor must not hold a worker slot"
    assert dag.max_active_runs == 1, "promotions compare against the champion: one run at a time"
    params = dag.params
    assert {k: params[k] for k in params} == {
        "window_days": 182,
        "holdout_days": 14,
        "promotion_margin": 0.002,
        "search_budget": 0,
        "as_of": None,
    }


def test_training_params_are_validated(dags: dict) -> None:
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    params = dags["flight_delay_training"].params
    for bad in ({"holdout_days": 0}, {"search_budget": -1}, {"window_days": "many"}):
        candidate = ParamsDict({k: params.get_param(k) for k in params})
        with pytest.raises(ParamValidationError):
            candidate.update(bad)
    # The defaults are valid as they are.
    ParamsDict({k: params.get_param(k) for k in params}).validate()


def test_training_outlets_and_inlets(dags: dict) -> None:
    dag = dags["flight_delay_training"]
    inlets = {a.name for a in dag.get_task("wait_for_features").inlets if isinstance(a, Asset)}
    assert inlets == {"features.flight_features"}
    for task_id in ("train", "evaluate_and_promote"):
        outlets = {a.name for a in dag.get_task(task_id).outlets if isinstance(a, Asset)}
        assert outlets == {"models.flight_delay"}, task_id


# --- flight_delay_scoring structure -------------------------------------------------------------


def test_scoring_task_graph(dags: dict) -> None:
    dag = dags["flight_delay_scoring"]
    down = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    watcher = "fail_run_if_a_task_failed"
    assert down == {
        "extract_next_day": {"validate_next_day", watcher},
        "validate_next_day": {"score_next_day", watcher},
        "wait_for_features": {"score_next_day", "monitor", watcher},
        "score_next_day": {"publish_predictions", "monitor", watcher},
        "publish_predictions": {"refresh_warehouse", watcher},
        "monitor": {"raise_alert", "refresh_warehouse", watcher},
        "raise_alert": {watcher},
        "refresh_warehouse": {watcher},
        watcher: set(),
    }
    assert dag.get_task(watcher).trigger_rule == "one_failed"
    # Monitoring and the catalog refresh run even when scoring failed (no champion yet).
    assert dag.get_task("monitor").trigger_rule == "all_done"
    assert dag.get_task("refresh_warehouse").trigger_rule == "all_done"
    assert dag.get_task("wait_for_features").mode == "reschedule"


def test_scoring_params(dags: dict) -> None:
    params = dags["flight_delay_scoring"].params
    assert {k: params[k] for k in params} == {
        "start": None,
        "end": None,
        "model_version_policy": "current_champion",
    }


def test_the_alert_asset_links_scoring_to_training(dags: dict) -> None:
    emitted = {a.name for a in dags["flight_delay_scoring"].get_task("raise_alert").outlets}
    assert emitted == {"models.flight_delay_alert"}
    predictions = {a.name for a in dags["flight_delay_scoring"].get_task("score_next_day").outlets}
    assert predictions == {"scores.flight_delay_predictions"}


# --- Parse-time hygiene --------------------------------------------------------------------------

_PARSE_PROBE = textwrap.dedent(
    """
    import importlib.util
    import json
    import socket
    import sys
    import time

    dags_dir, dag_file, heavy = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args)[:200])
        raise OSError(f"network connection at DAG parse time: {args!r}")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    sys.path.insert(0, dags_dir)

    spec = importlib.util.spec_from_file_location("dag_under_test", dag_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    started = time.perf_counter()
    spec.loader.exec_module(module)
    seconds = time.perf_counter() - started

    offenders = sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
    print(json.dumps({"seconds": seconds, "offenders": offenders, "network": attempts}))
    """
)


@pytest.fixture(scope="module", params=[p.relative_to(DAGS_DIR).as_posix() for p in _dag_files()])
def parse_probe(request: pytest.FixtureRequest) -> dict:
    """Import one DAG file in a fresh interpreter (same environment) and report what it did."""
    dag_file = DAGS_DIR / request.param
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH", "")])]
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _PARSE_PROBE,
            str(DAGS_DIR),
            str(dag_file),
            json.dumps(HEAVY_MODULES),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (
        f"importing {request.param} failed in a fresh interpreter:\n{proc.stderr[-4000:]}"
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["file"] = request.param
    return report


def test_parse_imports_no_heavy_modules(parse_probe: dict) -> None:
    print(f"{parse_probe['file']}: heavy modules after import: {parse_probe['offenders']}")
    assert parse_probe["offenders"] == [], (
        f"{parse_probe['file']} imports heavy modules at parse time: {parse_probe['offenders']}"
    )


def test_parse_opens_no_network_connection(parse_probe: dict) -> None:
    assert parse_probe["network"] == [], parse_probe["network"]


def test_parse_is_within_the_dagbag_import_timeout(parse_probe: dict) -> None:
    # A hard limit the DAG processor enforces (the file counts as an import error past it),
    # measured in a cold interpreter, which includes importing airflow.sdk itself.
    seconds = parse_probe["seconds"]
    print(f"{parse_probe['file']}: import took {seconds:.2f} s in a fresh interpreter")
    assert seconds < DAGBAG_IMPORT_TIMEOUT_SECONDS, f"{parse_probe['file']} took {seconds:.1f} s"


# --- No logic at parse time --------------------------------------------------------------------


def _module_level_pipelines_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``pipelines`` import not inside a function body."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True)
                continue
            if not in_function:
                if isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                    if child.module.split(".")[0] == "pipelines":
                        found.append((child.lineno, child.module))
                elif isinstance(child, ast.Import):
                    found.extend(
                        (child.lineno, alias.name)
                        for alias in child.names
                        if alias.name.split(".")[0] == "pipelines"
                    )
            visit(child, in_function)

    visit(tree, False)
    return found


def test_pipelines_is_used_only_inside_task_bodies() -> None:
    files = sorted(p for p in DAGS_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    assert files
    violations = []
    for path in files:
        rel = path.relative_to(DAGS_DIR).as_posix()
        allowed = ALLOWED_MODULE_LEVEL_PIPELINES_IMPORTS.get(rel, set())
        tree = ast.parse(path.read_text(), filename=str(path))
        violations.extend(
            f"dags/{rel}:{line}: module-level import of {module}"
            for line, module in _module_level_pipelines_imports(tree)
            if module not in allowed
        )
    assert not violations, "\n".join(violations)


def test_the_check_catches_a_module_level_import() -> None:
    source = textwrap.dedent(
        """
        from pipelines import tasks
        import pipelines.lake

        def ok():
            from pipelines import ingest
        """
    )
    found = _module_level_pipelines_imports(ast.parse(source))
    assert [m for _, m in found] == ["pipelines", "pipelines.lake"]
