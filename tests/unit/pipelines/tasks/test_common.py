"""Task entry points: the interval, run id and training date a task works on, from its context."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowFailException

from pipelines.dates import Interval
from pipelines.errors import InvalidRunParams
from pipelines.tasks import training as tasks
from pipelines.tasks.common import RunContext, fails_fast
from pipelines.training.dataset import InsufficientTrainingData

RUN_ID = "scheduled__2013-01-02T00:00:00+00:00"


def test_the_interval_comes_from_pendulum_data_interval() -> None:
    context = {
        "data_interval_start": pendulum.datetime(2013, 1, 2, tz="UTC"),
        "data_interval_end": pendulum.datetime(2013, 1, 3, tz="UTC"),
        "run_id": RUN_ID,
        "params": {},
    }

    run = RunContext.from_airflow(context)

    assert run.interval == Interval(date(2013, 1, 2), date(2013, 1, 3))
    assert list(run.interval.days()) == [date(2013, 1, 2)]
    assert run.run_id == RUN_ID


def test_the_interval_comes_from_datetime_data_interval() -> None:
    context = {
        "data_interval_start": datetime(2013, 3, 1, tzinfo=UTC),
        "data_interval_end": datetime(2013, 4, 1, tzinfo=UTC),
        "run_id": "backfill__2013-03-01",
    }

    run = RunContext.from_airflow(context)

    assert run.interval == Interval(date(2013, 3, 1), date(2013, 4, 1))
    assert len(run.interval) == 31
    assert run.run_id == "backfill__2013-03-01"


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2013-02-01", "end": "2013-03-01"},
        {"start": date(2013, 2, 1), "end": date(2013, 3, 1)},
    ],
)
def test_params_override_the_data_interval(params: dict) -> None:
    context = {
        "data_interval_start": pendulum.datetime(2013, 1, 2, tz="UTC"),
        "data_interval_end": pendulum.datetime(2013, 1, 3, tz="UTC"),
        "run_id": "manual__2013-06-01",
        "params": params,
    }

    run = RunContext.from_airflow(context)

    assert run.interval == Interval(date(2013, 2, 1), date(2013, 3, 1))
    assert run.run_id == "manual__2013-06-01"


def test_params_give_dates_to_a_run_without_data_interval() -> None:
    context = {
        "data_interval_start": None,
        "data_interval_end": None,
        "run_id": "asset_triggered__2013-06-01",
        "params": {"start": "2013-01-01", "end": "2013-01-08"},
    }

    run = RunContext.from_airflow(context)

    assert run.interval == Interval(date(2013, 1, 1), date(2013, 1, 8))


def test_params_left_at_none_fall_back_to_the_data_interval() -> None:
    context = {
        "data_interval_start": pendulum.datetime(2013, 1, 2, tz="UTC"),
        "data_interval_end": pendulum.datetime(2013, 1, 3, tz="UTC"),
        "run_id": RUN_ID,
        "params": {"start": None, "end": None},  # a DAG's declared params, not set at trigger
    }

    assert RunContext.from_airflow(context).interval == Interval.day(date(2013, 1, 2))


@pytest.mark.parametrize(
    "context",
    [
        {"run_id": "manual__x"},
        {"run_id": "manual__x", "data_interval_start": None, "data_interval_end": None},
        {"run_id": "manual__x", "params": {"start": None, "end": None}},
        {"run_id": "manual__x", "params": None},
    ],
)
def test_no_interval_and_no_params_is_refused_saying_what_to_set(context: dict) -> None:
    with pytest.raises(ValueError) as caught:
        RunContext.from_airflow(context)

    message = str(caught.value)
    assert "params 'start' and 'end'" in message
    assert "no data interval" in message


def test_only_one_of_start_and_end_is_refused_rather_than_mixed_with_the_interval() -> None:
    context = {
        "run_id": "manual__x",
        "params": {"start": "2012-12-01"},
        "data_interval_start": pendulum.datetime(2013, 1, 2, tz="UTC"),
        "data_interval_end": pendulum.datetime(2013, 1, 3, tz="UTC"),
    }
    with pytest.raises(ValueError, match="set both params 'start' and 'end'"):
        RunContext.from_airflow(context)


def test_a_zero_length_interval_is_refused() -> None:
    moment = pendulum.datetime(2013, 1, 2, tz="UTC")
    context = {"data_interval_start": moment, "data_interval_end": moment, "run_id": RUN_ID}

    with pytest.raises(ValueError, match="empty data interval"):
        RunContext.from_airflow(context)


def test_the_run_id_is_a_string() -> None:
    context = {
        "params": {"start": "2013-01-01", "end": "2013-01-02"},
        "run_id": 12345,
    }

    assert RunContext.from_airflow(context).run_id == "12345"


# --- Training tasks ----------------------------------------------------------------------------


def test_training_as_of_is_the_interval_end_unless_the_param_says_otherwise() -> None:
    context = {
        "data_interval_start": datetime(2013, 2, 25, tzinfo=UTC),
        "data_interval_end": datetime(2013, 3, 4, tzinfo=UTC),
        "params": {"as_of": None},
        "run_id": "scheduled__2013-03-04",
    }
    assert tasks.training_as_of(context) == date(2013, 3, 4)
    assert tasks.training_as_of({**context, "params": {"as_of": "2013-02-01"}}) == date(2013, 2, 1)


def test_training_as_of_without_interval_or_param_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="as_of"):
        tasks.training_as_of({"params": {}, "run_id": "manual__x"})


def test_features_ready_waits_for_the_window_last_day(data_dir) -> None:
    from tests.fixtures.synthetic_features import write_features

    context = {"params": {"as_of": "2013-01-10"}, "run_id": "manual__x"}
    assert tasks.features_ready(context) is False
    write_features(data_dir / "lake", Interval.of("2013-01-08", "2013-01-09"), flights=10)
    assert tasks.features_ready(context) is False  # the 9th is the last day, not the 8th
    write_features(data_dir / "lake", Interval.of("2013-01-09", "2013-01-10"), flights=10)
    assert tasks.features_ready(context) is True


# --- Failing fast: the one place that says "do not retry" ------------------------------------


def test_a_permanent_error_fails_the_task_at_once_naming_the_error() -> None:
    @fails_fast
    def train(context: dict) -> dict:
        raise InsufficientTrainingData("too few days")

    with pytest.raises(AirflowFailException, match="InsufficientTrainingData: too few days"):
        train({})


def test_other_errors_are_left_to_the_retry_policy_and_results_pass_through() -> None:
    @fails_fast
    def extract(context: dict) -> dict:
        if context.get("down"):
            raise ConnectionError("source database unreachable")
        return {"rows": 3}

    with pytest.raises(ConnectionError):
        extract({"down": True})
    assert extract({}) == {"rows": 3}


def test_bad_run_params_fail_without_retry() -> None:
    from pipelines.tasks import flights_daily

    context = {"params": {"start": "2013-01-02"}, "run_id": "manual__x"}
    with pytest.raises(AirflowFailException, match="InvalidRunParams: set both params"):
        flights_daily.extract(context)


# --- Hostile Params and conf: refused before they reach a query or a path -------------------

HOSTILE = [
    "2013-01-01'; DROP TABLE raw.flights; --",
    "../../etc/passwd",
    "2013-01-01 UNION SELECT * FROM read_text('/proc/self/environ')",
    "2013-13-45",
    "x" * 500,
    ["2013-01-01"],
    {"$gt": ""},
    12345,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_start_or_end_fails_without_retry(value: object) -> None:
    for params in ({"start": value, "end": "2013-01-03"}, {"start": "2013-01-01", "end": value}):
        with pytest.raises(InvalidRunParams, match="must be a date YYYY-MM-DD"):
            RunContext.from_airflow({"params": params, "run_id": "manual__x"})


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_as_of_fails_without_retry(value: object) -> None:
    with pytest.raises(InvalidRunParams):
        tasks.training_as_of({"params": {"as_of": value}, "run_id": "manual__x"})


def test_a_reversed_range_fails_without_retry() -> None:
    with pytest.raises(InvalidRunParams, match="give no days"):
        RunContext.from_airflow(
            {"params": {"start": "2013-02-01", "end": "2013-01-01"}, "run_id": "manual__x"}
        )
