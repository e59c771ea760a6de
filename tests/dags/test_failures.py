"""``no_retry_on_permanent_errors``: permanent errors fail the task at once, others may retry."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from pipelines.errors import PermanentError
from pipelines.training import InsufficientTrainingData

_PATH = Path(__file__).resolve().parents[2] / "dags" / "common" / "failures.py"
_SPEC = importlib.util.spec_from_file_location("dags_common_failures", _PATH)
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)
no_retry_on_permanent_errors = _MODULE.no_retry_on_permanent_errors


def test_a_permanent_error_becomes_a_fail_without_retry_naming_the_error() -> None:
    with (
        pytest.raises(AirflowFailException, match="InsufficientTrainingData: too few days"),
        no_retry_on_permanent_errors(),
    ):
        raise InsufficientTrainingData("too few days")


def test_other_errors_pass_through_for_the_retry_policy() -> None:
    with pytest.raises(ConnectionError), no_retry_on_permanent_errors():
        raise ConnectionError("MLflow server unreachable")


def test_a_clean_block_returns_normally() -> None:
    with no_retry_on_permanent_errors():
        value = 42
    assert value == 42
    assert issubclass(InsufficientTrainingData, PermanentError)
