"""Data validation with Great Expectations: checks, the suites per table, and the runner.

This package's ``__init__`` stays light (Great Expectations takes seconds to import); only the
``checks``, ``suites`` and ``runner`` modules import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowCountBounds:
    """How many rows one day of a daily table may have before the day is blocked."""

    flights: tuple[int, int] = (100, 5_000)
    weather: tuple[int, int] = (24, 200)
