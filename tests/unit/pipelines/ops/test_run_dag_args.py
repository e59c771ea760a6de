"""``nightshift run-dag``: bad arguments are one line and exit 2, before Airflow migrates anything;
SIGTERM/SIGINT end a run with one line and 128 + signal."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from pipelines.ops import airflow_runner, run_args, run_command, stopping
from pipelines.ops.airflow_runner import DayRun
from pipelines.ops.cli import main
from tests.fixtures.dags import DAGS_DIR, EXPECTED_DAG_IDS


@pytest.fixture(autouse=True)
def landed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every day has its landing files, unless a test says otherwise (tests of check_landing)."""
    monkeypatch.setattr(run_args, "check_landing", lambda *args: None)


@pytest.fixture
def no_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command gets as far as starting Airflow."""

    def started(*args, **kwargs):
        raise AssertionError("Airflow was started for an argument error")

    monkeypatch.setattr(run_command, "_prepared_dag", started)


@pytest.fixture
def no_migration(monkeypatch: pytest.MonkeyPatch) -> None:
    def migrated() -> None:
        raise AssertionError("the metadata DB was migrated for an argument error")

    monkeypatch.setattr(airflow_runner, "migrate_metadata_db", migrated)


def _usage_error(capsys, argv: list[str], max_seconds: float) -> str:
    started = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - started < max_seconds
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--start", "2013-02-30", "--end", "2013-03-02"], "--start '2013-02-30' is not a"),
        (["--start", "2013-01-01", "--end", "tomorrow"], "--end 'tomorrow' is not a"),
        (["--start", "2013-01-20", "--end", "2013-01-01"], "must be after --start 2013-01-20"),
        (["--start", "2013-01-20", "--end", "2013-01-20"], "must be after --start"),
        (["--start", "2013-01-01", "--end", "2013-01-02", "--conf", "{bad"], "not valid JSON"),
        (["--start", "2013-01-01", "--end", "2013-01-02", "--conf", "[1]"], "a JSON object"),
    ],
)
def test_bad_dates_and_conf_fail_at_once(no_airflow, capsys, argv, expected: str) -> None:
    line = _usage_error(capsys, ["run-dag", "flights_daily", *argv], max_seconds=2)
    assert line.startswith("nightshift run-dag: ") and expected in line


def test_an_unknown_dag_lists_the_known_ones(no_airflow, capsys) -> None:
    argv = ["run-dag", "flights_dialy", "--start", "2013-01-01", "--end", "2013-01-02"]
    line = _usage_error(capsys, argv, max_seconds=2)
    assert "unknown DAG 'flights_dialy'" in line
    assert all(dag_id in line for dag_id in EXPECTED_DAG_IDS)


def test_other_commands_report_bad_dates_in_one_line(capsys) -> None:
    line = _usage_error(capsys, ["summary", "--start", "2013-13-01", "--end", "x"], 2)
    assert line == "nightshift summary: --start '2013-13-01' is not a calendar day (YYYY-MM-DD)"


JAN = ["--start", "2013-01-01", "--end", "2013-01-02"]
MARCH = ["--start", "2013-03-01", "--end", "2013-03-02"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # Params the DAG does not have, or values its Param schema refuses.
        (["flights_daily", *JAN, "--conf", '{"window_day": 3}'], "has no param window_day"),
        (
            ["flight_delay_scoring", *MARCH, "--conf", '{"model_version_policy": "newest"}'],
            "--conf: ",
        ),
        # Before the DAG's first day: Airflow would create an empty run and call it a success.
        (["flight_delay_scoring", *JAN], "is earlier, so no task would run"),
        # After its last day (the sample's 2013-12-30): the same empty success.
        (
            ["flights_daily", "--start", "2013-12-31", "--end", "2014-01-01"],
            "processes days up to 2013-12-30",
        ),
    ],
)
def test_what_only_the_dag_knows_is_checked_before_the_migration(
    no_migration, capsys, argv: list[str], expected: str
) -> None:
    line = _usage_error(capsys, ["run-dag", *argv], max_seconds=30)
    assert expected in line


def test_the_dag_ids_read_from_the_files_are_the_dags() -> None:
    assert set(run_args.known_dag_ids(DAGS_DIR)) == EXPECTED_DAG_IDS


def test_the_dag_ids_read_from_the_files_match_airflows_dagbag() -> None:
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=str(DAGS_DIR), bundle_path=DAGS_DIR, bundle_name="dags-folder")
    assert run_args.known_dag_ids(DAGS_DIR) == sorted(bag.dag_ids)


def test_the_dag_id_scan_needs_dag_id_literals(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('@dag(dag_id="one")\ndef f(): ...\nDAG(dag_id="two")\n')
    (tmp_path / "broken.py").write_text("def (:\n")
    assert run_args.known_dag_ids(tmp_path) == ["one", "two"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_guarded_block_with_its_exit_code(sig, code: int) -> None:
    before = signal.getsignal(sig)
    reached_the_end = False
    with stopping.stop_on_signals() as outcome:
        os.kill(os.getpid(), sig)
        time.sleep(1)  # the handler raises here
        reached_the_end = True
    assert not reached_the_end
    assert outcome.stopped is not None and outcome.stopped.exit_code == code
    assert signal.getsignal(sig) == before


def test_a_stop_swallowed_by_a_task_is_raised_after_it() -> None:
    with stopping.stop_on_signals() as outcome:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except BaseException:  # what Airflow's task runner does around a task
            pass
        stopping.raise_if_requested()
        raise AssertionError("not stopped")
    assert outcome.stopped is not None and outcome.stopped.name == "SIGTERM"


def test_a_stop_waits_for_the_end_of_a_deferred_section() -> None:
    finished = False
    with stopping.stop_on_signals() as outcome:
        with stopping.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            finished = True
        raise AssertionError("not stopped")
    assert finished and outcome.stopped is not None


def test_run_dag_reports_a_stop_in_one_line(monkeypatch, capsys) -> None:
    runs = [DayRun("2013-01-01", "r1", "success", []), DayRun("2013-01-02", "r2", "success", [])]

    def two_runs_then_a_signal(*args):
        yield from runs
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)

    monkeypatch.setattr(run_command, "_prepared_dag", lambda *args: None)
    monkeypatch.setattr(run_command, "_runs", two_runs_then_a_signal)
    assert main(["run-dag", "flights_daily", "--start", "2013-01-01", "--end", "2013-01-20"]) == 143
    captured = capsys.readouterr()
    assert captured.err.strip() == "stopped by SIGTERM after 2 of 19 runs"
    assert captured.out.splitlines() == [
        "flights_daily 2013-01-01: success",
        "flights_daily 2013-01-02: success",
    ]


def test_a_failed_run_is_reported_with_its_reason_and_traceback_file(capsys, tmp_path) -> None:
    run = DayRun(
        "2013-01-01",
        "r1",
        "failed",
        ["extract", "validate_and_publish"],
        {"extract": "SourceDataMissing: no landing file"},
        tmp_path / "2013-01-01.log",
    )
    run_command.report_run("flights_daily", run)
    assert capsys.readouterr().out.splitlines() == [
        "flights_daily 2013-01-01: failed extract validate_and_publish",
        "  extract failed: SourceDataMissing: no landing file",
        "  not run (upstream failed): validate_and_publish",
        f"  traceback: {tmp_path / '2013-01-01.log'}",
    ]


def test_a_run_marked_only_by_an_open_incident_is_alerted_not_failed(monkeypatch, capsys) -> None:
    reason = "AirflowFailException: DEGRADED: 1 open incident(s): warning performance of ..."
    alerted = DayRun("2013-03-08", "r1", "failed", ["raise_alert"], {"raise_alert": reason})
    broken = DayRun("2013-03-09", "r2", "failed", ["score_next_day", "raise_alert"])
    assert alerted.alerted and not broken.alerted
    monkeypatch.setattr(run_command, "_prepared_dag", lambda *args: None)
    monkeypatch.setattr(run_command, "_runs", lambda *args: iter([alerted]))
    args = ["run-dag", "flight_delay_scoring", "--start", "2013-03-08", "--end", "2013-03-09"]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines() == [
        "flight_delay_scoring 2013-03-08: alerted (open monitoring incidents)",
        f"  {reason}",
    ]


def test_days_without_landing_files_are_refused_before_airflow(tmp_path, monkeypatch) -> None:
    from pipelines.dates import Interval
    from pipelines.ingest.sources.files import landing_file

    monkeypatch.undo()  # the real check_landing
    for day in ("2013-01-01", "2013-01-02"):
        path = landing_file(tmp_path, "flights", run_args.parse_day(day, "--start"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("year\n")
    run_args.check_landing("flights_daily", Interval.of("2013-01-01", "2013-01-03"), tmp_path)
    wanted = r"2 of 3 days: no flights landing file for 2013-01-03..2013-01-04"
    with pytest.raises(run_args.UsageError, match=wanted):
        run_args.check_landing("flights_daily", Interval.of("2013-01-02", "2013-01-05"), tmp_path)
    # Scoring's run of day D reads D + 1's published schedule.
    with pytest.raises(run_args.UsageError, match=r"no schedule landing file for 2013-01-02 "):
        run_args.check_landing(
            "flight_delay_scoring", Interval.of("2013-01-01", "2013-01-02"), tmp_path
        )
    # Training reads the lake only.
    run_args.check_landing(
        "flight_delay_training", Interval.of("2014-01-01", "2014-01-02"), tmp_path
    )
