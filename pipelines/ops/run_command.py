"""``nightshift run-dag``: arguments checked before Airflow starts, one line per run, a clean stop.

Exit codes: 0 every run succeeded (a run marked only by an open monitoring incident counts as
succeeded, and is printed as "alerted"), 1 some run failed, 2 a bad argument (before any run),
128 + signal when stopped (143 SIGTERM, 130 SIGINT).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from pipelines.dates import Interval
from pipelines.ops import run_args, stopping
from pipelines.ops.run_args import UsageError
from pipelines.settings import get_settings


def quiet_libraries() -> None:
    """Airflow logs every step of every run at INFO, and its dependencies warn about their own
    deprecations: both before Airflow is imported, so its logging configuration takes them."""
    import os
    import warnings

    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    import airflow.configuration  # noqa: F401 (it adds filters of its own: ours go in front)

    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)


def _prepared_dag(
    dag_id: str, interval: Interval, conf: dict[str, Any] | None, coarse: bool, verbose: bool
):
    """The DAG, checked against the request, and a migrated metadata DB."""
    from pipelines.ops.airflow_env import apply_embedded_airflow_env

    apply_embedded_airflow_env(get_settings())
    if not verbose:
        quiet_libraries()
    from pipelines.ops import airflow_runner as runner

    try:
        dag = runner.load_dag(dag_id)
        runner.check_request(dag, interval, conf, coarse=coarse)
    except (LookupError, runner.RunRequestError) as exc:
        raise UsageError(" ".join(str(exc).split())) from exc
    with stopping.deferred():  # a stop waits for the migration to end
        runner.migrate_metadata_db()
    return dag


def _runs(dag, interval: Interval, conf: dict[str, Any] | None, coarse: bool) -> Iterator:
    from pipelines.ops import airflow_runner as runner

    if coarse:
        yield runner.run_coarse(dag.dag_id, interval, conf, dag=dag)
    else:
        yield from runner.iter_days(dag, interval, conf)


def report_run(dag_id: str, run) -> None:
    """One line per run; for a failed one, each failed task's reason and where its traceback is."""
    from pipelines.ops.airflow_runner import duration

    took = f" in {duration(run.seconds)}" if run.seconds is not None else ""
    if run.alerted:
        print(f"{dag_id} {run.day}: alerted (open monitoring incidents){took}")
        print(f"  {run.reasons.get(run.failed_tasks[0], '')}".rstrip())
        sys.stdout.flush()
        return
    print(f"{dag_id} {run.day}: {run.state}{took} {' '.join(run.failed_tasks)}".rstrip())
    for task_id, reason in run.reasons.items():
        print(f"  {task_id} failed: {reason}")
    upstream = [t for t in run.failed_tasks if t not in run.reasons]
    if run.reasons and upstream:
        print(f"  not run (upstream failed): {', '.join(upstream)}")
    if run.log_file:
        print(f"  traceback: {run.log_file}")
    sys.stdout.flush()


def run_dag(
    dag_id: str,
    start: str,
    end: str,
    conf_text: str | None,
    coarse: bool = False,
    verbose: bool = False,
) -> int:
    """Run ``dag_id`` per day of [start, end) (or once, ``coarse``); see the module for exits.

    Prints a line per task and per run; Airflow's and the libraries' own logging shows only with
    ``verbose`` (warnings and errors otherwise; a failed task's traceback is kept in a file)."""
    # What can be checked without Airflow is checked first: Airflow takes seconds to start.
    interval = run_args.parse_interval(start, end)
    run_args.check_dag_id(dag_id)
    conf = run_args.parse_conf(conf_text)
    settings = get_settings()
    if settings.source_kind == "files":
        run_args.check_landing(dag_id, interval, settings.landing_root)
    total, done, failed = (1 if coarse else len(interval)), 0, 0
    with stopping.stop_on_signals() as outcome:
        dag = _prepared_dag(dag_id, interval, conf, coarse, verbose)
        for run in _runs(dag, interval, conf, coarse):
            done += 1
            failed += run.state != "success" and not run.alerted
            report_run(dag_id, run)
    if outcome.stopped:
        print(f"stopped by {outcome.stopped.name} after {done} of {total} runs", file=sys.stderr)
        return outcome.stopped.exit_code
    if failed:
        print(f"{failed} of {total} runs failed", file=sys.stderr)
    return 1 if failed else 0
