"""Extract: copy source tables into the lake's ``incoming`` layer, as the source gave them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest.sources.base import Source
from pipelines.storage import lake

log = logging.getLogger(__name__)


@dataclass
class ExtractSummary:
    source: str
    rows: dict[str, int] = field(default_factory=dict)


def extract(
    source: Source,
    lake_root: Path,
    interval: Interval,
    run_id: str,
    source_tables: tuple[str, ...] = tables.SOURCE_TABLES,
) -> ExtractSummary:
    """Copy every table of every day of ``interval`` from ``source`` to ``incoming``."""
    summary = ExtractSummary(source=source.kind)
    for day in interval.days():
        for table in source_tables:
            data = source.extract(table, day)
            written = lake.write_partition(
                lake_root, *tables.incoming(table).address, day, data, run_id
            )
            summary.rows[table] = summary.rows.get(table, 0) + written.rows
    log.info("extracted %s from %s source: %s", interval, source.kind, summary.rows)
    return summary
