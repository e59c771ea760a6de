"""Errors shared by every stage.

A task that raises a ``PermanentError`` fails at once instead of retrying: the same input would fail
the same way, and an on-call engineer should see the message now, not after the retry delays.
The task adapters (``pipelines/tasks/common.py``) turn it into Airflow's fail-without-retry,
in one place.
"""

from __future__ import annotations


class PermanentError(Exception):
    """The input, not the infrastructure, is wrong: fix the data or the parameters, then rerun."""


class InvalidRunParams(PermanentError, ValueError):
    """The run's Params or conf do not describe a usable run (dates, ranges, choices)."""


class MissingUpstreamPartition(RuntimeError):
    """A stage was asked for a day whose input partition does not exist yet; a retry may find it."""
