"""What every source is: one table for one day, as Arrow, in the canonical schema.

Two ways a source can fail to hand a table over, and they are handled differently:

* ``SourceDataMissing``: upstream has not published the data yet. Extract raises it, so the task
  retries later (the only input problem a retry can fix, with connection faults).
* ``UnreadableSourceData``: upstream published something that cannot be read in the canonical
  schema (an unbalanced quote, a file cut mid-row, text in a numeric column, a file that is not
  UTF-8, a retyped database column). Retrying reads the same bytes, so extract does not raise it:
  it records the failure as validation evidence and validation blocks the day.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Protocol

import pyarrow as pa


class SourceDataMissing(RuntimeError):
    """The source has not (yet) published the data asked for; a later retry may find it."""


class UnreadableSourceData(ValueError):
    """The source published ``table`` but it cannot be read as the canonical schema says.

    Carries what an operator needs to find the fault: where (``location``: a file or a database
    table), the parser's ``reason``, and the ``line`` and ``column`` when the reader can tell them.
    ``file`` is the delivered file, if any, which extract keeps a copy of.
    """

    def __init__(
        self,
        table: str,
        reason: str,
        *,
        location: str = "",
        line: int | None = None,
        column: int | None = None,
        column_name: str | None = None,
        file: Path | None = None,
    ) -> None:
        self.table = table
        self.reason = reason
        self.location = location
        self.line = line
        self.column = column
        self.column_name = column_name
        self.file = file
        super().__init__(self.describe())

    def describe(self) -> str:
        """``<location>, line L, column C (name): <reason>``, leaving out what is unknown."""
        where = [self.location] if self.location else []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None or self.column_name:
            number = "" if self.column is None else f" {self.column}"
            name = f" ({self.column_name})" if self.column_name else ""
            where.append(f"column{number}{name}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class Source(Protocol):
    """What every source implements. A source that can also hand a table over a batch at a time
    has ``stream(table, day) -> pa.RecordBatchReader``, which extract prefers: a day of any size
    then passes through memory a batch at a time."""

    kind: str

    def extract(self, table: str, day: date) -> pa.Table:
        """One day of ``table`` (or its snapshot as of ``day``), conformed to the schema.

        Raises ``SourceDataMissing`` when upstream has not published it yet and
        ``UnreadableSourceData`` when what it published cannot be read.
        """
        ...
