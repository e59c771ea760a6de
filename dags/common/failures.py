"""Fail fast on errors that a retry cannot fix (see ``pipelines/errors.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowFailException


@contextmanager
def no_retry_on_permanent_errors() -> Iterator[None]:
    from pipelines.errors import PermanentError

    try:
        yield
    except PermanentError as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
