"""The demo's plan is checked before Airflow starts; a failed task's reason comes from its log."""

from __future__ import annotations

import json
import socket
from datetime import date
from pathlib import Path

import pytest

from pipelines.ops.airflow_rest import last_error, run_after
from pipelines.ops.airflow_runner import duration
from pipelines.ops.demo import DemoPlan
from pipelines.ops.embedded_airflow import require_free_port
from pipelines.ops.run_args import UsageError
from pipelines.settings import Settings


def _plan(**changes) -> DemoPlan:
    values = {
        "start": date(2013, 1, 1),
        "end": date(2013, 3, 15),
        "nightly_days": 7,
        "train_as_of": date(2013, 3, 1),
        "train_conf": {"window_days": 59},
    }
    return DemoPlan(**{**values, **changes})


def _settings(end: str | None) -> Settings:
    return Settings(_env_file=None, schedule_end=end)


def test_the_plan_splits_the_days() -> None:
    plan = _plan()
    assert plan.last_day == date(2013, 3, 14)
    assert plan.first_nightly == date(2013, 3, 8)
    plan.check(_settings("2013-03-14"))


def test_the_schedule_window_must_end_on_the_last_day_with_data() -> None:
    # The sample's default window runs to December: unpausing would schedule days with no data.
    with pytest.raises(UsageError, match="NIGHTSHIFT_SCHEDULE_END=2013-03-14"):
        _plan().check(_settings("2013-12-30"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nightly_days": 0}, "--nightly-days 0"),
        ({"nightly_days": 73}, "--nightly-days 73"),
        ({"train_as_of": date(2013, 3, 20)}, "--train-as-of 2013-03-20"),
        ({"train_as_of": date(2013, 1, 1)}, "--train-as-of 2013-01-01"),
    ],
)
def test_impossible_plans_are_refused_in_one_line(changes, message) -> None:
    with pytest.raises(UsageError, match=message):
        _plan(**changes).check(_settings("2013-03-14"))


def test_the_cli_refuses_bad_arguments_before_airflow_starts(capsys) -> None:
    from pipelines.ops.cli import main

    code = main(["demo", "--start", "2013-01-01", "--end", "2013-02-30", "--train-as-of", "x"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["nightshift demo: --end '2013-02-30' is not a calendar day (YYYY-MM-DD)"]


def test_the_last_error_of_a_task_log(tmp_path: Path) -> None:
    log = tmp_path / "attempt=1.log"
    records = [
        {"event": "starting", "level": "info"},
        {"event": "noise", "level": "error"},
        {
            "event": "Task failed with exception",
            "level": "error",
            "error_detail": [
                {"exc_type": "AirflowFailException", "exc_value": "HistoryBlocked:\n 2013-03-07"}
            ],
        },
        {"event": "done", "level": "info"},
    ]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\nnot json\n")
    assert last_error(log) == "AirflowFailException: HistoryBlocked: 2013-03-07"
    assert last_error(tmp_path / "missing.log") is None


def test_times_and_firing_dates() -> None:
    assert duration(4.24) == "4.2 s"
    assert duration(65.4) == "1 min 05 s"
    assert duration(None) == ""
    # The scheduled run of day D fires at midnight after it.
    assert run_after(date(2013, 3, 14)) == "2013-03-15T00:00:00Z"


def test_a_port_in_use_is_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(UsageError, match="is in use"):
            require_free_port(f"http://127.0.0.1:{port}")
