"""Errors that retrying cannot fix.

A task that raises a ``PermanentError`` fails at once instead of retrying: the same input would fail
the same way, and an on-call engineer should see the message now, not after the retry delays.
The DAGs translate it into Airflow's fail-without-retry (``dags/common/failures.py``).
"""

from __future__ import annotations


class PermanentError(Exception):
    """The input, not the infrastructure, is wrong: fix the data or the parameters, then rerun."""
