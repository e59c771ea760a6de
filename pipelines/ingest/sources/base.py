"""What every source is: one table for one day, as Arrow, in the canonical schema."""

from __future__ import annotations

from datetime import date
from typing import Protocol

import pyarrow as pa


class SourceDataMissing(RuntimeError):
    """The source has not (yet) published the data asked for; a later retry may find it."""


class Source(Protocol):
    """What every source implements."""

    kind: str

    def extract(self, table: str, day: date) -> pa.Table:
        """One day of ``table`` (or its snapshot as of ``day``), conformed to the schema."""
        ...
