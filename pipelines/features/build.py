"""Stage: build ``features.flight_features`` for every day of an interval."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import tables
from pipelines.dates import Interval
from pipelines.errors import MissingUpstreamPartition
from pipelines.storage import lake
from pipelines.storage.sql import load_sql
from pipelines.storage.warehouse import lake_connection

log = logging.getLogger(__name__)


@dataclass
class FeaturesBuilt:
    rows_per_day: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.rows_per_day.values())


def build_flight_features(
    lake_root: Path, sql_root: Path, interval: Interval, run_id: str
) -> FeaturesBuilt:
    """One partition of ``features.flight_features`` per day of ``interval``.

    Each day reads only the published schedule of that day and outcomes of the 28 days before it,
    so days can be rebuilt in any order and a rerun gives the same rows.
    """
    missing = lake.missing_partitions(lake_root, *tables.raw("flights").address, interval)
    if missing:
        raise MissingUpstreamPartition(
            f"raw.flights has no partition for {', '.join(map(str, missing))}: run (or fix and "
            "rerun) validate_and_publish for those days first"
        )
    query = load_sql(sql_root, "features", "flight_features")
    built = FeaturesBuilt()
    with lake_connection(lake_root, sql_root) as con:
        for day in interval.days():
            features = con.sql(query, params={"feature_date": day}).to_arrow_table()
            written = lake.write_partition(
                lake_root, *tables.FLIGHT_FEATURES.address, day, features, run_id
            )
            built.rows_per_day[day.isoformat()] = written.rows
            log.info("features.flight_features dt=%s: %d rows", day, written.rows)
    return built
