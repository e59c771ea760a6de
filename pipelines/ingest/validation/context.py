"""What a day's cross-table checks compare against, as plain data.

``validate`` loads it from the lake (the day's reference snapshots, the previous published ones,
the rows of recent published days) and hands it to the suites, which stay pure functions of
(table, day, bounds, context). Nothing here reads the lake or imports Great Expectations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

# The key column of each reference table: what flights, schedule and weather refer to.
REFERENCE_KEYS = {"airlines": "carrier", "airports": "faa", "planes": "tailnum"}


@dataclass(frozen=True)
class Snapshot:
    """A reference snapshot, reduced to what the checks use: its row count and its distinct keys,
    as an Arrow array (a snapshot at scale has millions of tails: they never become Python
    objects; the checks hand them to DuckDB as a table)."""

    rows: int
    keys: pa.Array

    @classmethod
    def of(cls, rows: int, keys: Iterable[str]) -> Snapshot:
        return cls(rows, pa.array(sorted(set(keys)), type=pa.string()))


@dataclass(frozen=True)
class DayContext:
    """reference: the snapshot of each reference table the day is checked against (the day's own,
    validated alongside, or else the latest published one); absent when there is none or it could
    not be read. previous: for each reference table validated on the day, the published snapshot
    before it. recent_rows: for each dated table, the row counts of its published days in the
    volume window, oldest first."""

    reference: Mapping[str, Snapshot] = field(default_factory=dict)
    previous: Mapping[str, Snapshot] = field(default_factory=dict)
    recent_rows: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def keys(self, table: str) -> pa.Array | None:
        snapshot = self.reference.get(table)
        return None if snapshot is None else snapshot.keys

    def lost_keys(self, table: str) -> pa.Array | None:
        """Keys of the previous snapshot that the day's snapshot no longer has (None: no pair)."""
        if table not in self.previous or table not in self.reference:
            return None
        before, now = self.previous[table].keys, self.reference[table].keys
        return before.filter(pc.invert(pc.is_in(before, value_set=now)))
