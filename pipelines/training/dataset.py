"""The labelled feature rows a training run reads, and the checks that there are enough of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import models.flight_delay as fd
from pipelines import tables
from pipelines.dates import Interval
from pipelines.errors import PermanentError
from pipelines.storage import lake

MIN_FIT_ROWS = 2_000


class InsufficientTrainingData(PermanentError, ValueError):
    """The window does not hold enough labelled feature partitions to fit or to judge a model."""


@dataclass
class Dataset:
    """Labelled feature rows of an interval, and the partitions they came from."""

    interval: Interval
    frame: pd.DataFrame
    partitions: list[dict[str, Any]] = field(default_factory=list)
    missing_days: list[date] = field(default_factory=list)

    @property
    def x(self) -> pd.DataFrame:
        return fd.feature_frame(self.frame)

    @property
    def y(self) -> np.ndarray:
        return self.frame[fd.LABEL].to_numpy(dtype="int8")

    def between(self, interval: Interval) -> Dataset:
        days = self.frame["dt"]
        frame = self.frame[(days >= interval.start) & (days < interval.end)]
        parts = [p for p in self.partitions if interval.start <= p["dt"] < interval.end]
        missing = [d for d in self.missing_days if interval.start <= d < interval.end]
        return Dataset(interval, frame.reset_index(drop=True), parts, missing)


def load_features(lake_root: Path, interval: Interval) -> Dataset:
    """Every ``features.flight_features`` partition of ``interval`` with its labelled rows.

    Rows without a label (cancelled or diverted flights) are left out. The frame is sorted by
    day and key, so the same partitions always give the same rows in the same order.
    """
    parts_read, partitions, missing = [], [], []
    for day in interval.days():
        if not lake.has_partition(lake_root, *tables.FLIGHT_FEATURES.address, day):
            missing.append(day)
            continue
        table = lake.read_partition(lake_root, *tables.FLIGHT_FEATURES.address, day)
        labelled = table.filter(pc.is_valid(table.column(fd.LABEL)))
        run_ids = sorted(set(table.column(lake.RUN_ID_COLUMN).to_pylist()))
        partitions.append(
            {
                "dt": day,
                "rows": table.num_rows,
                "labelled_rows": labelled.num_rows,
                "pipeline_run_id": ",".join(run_ids),
            }
        )
        dt = pa.array([day] * labelled.num_rows, pa.date32())
        parts_read.append(labelled.append_column("dt", dt))
    if parts_read:
        frame = pa.concat_tables(parts_read, promote_options="permissive").to_pandas()
        frame["dt"] = pd.to_datetime(frame["dt"]).dt.date
        frame = frame.sort_values(["dt", *fd.KEY[1:]], kind="stable").reset_index(drop=True)
    else:
        frame = pd.DataFrame(columns=[*fd.FEATURES, fd.LABEL, "dt"])
    return Dataset(interval, frame, partitions, missing)


def require_enough(dataset: Dataset, what: str, min_days: int, min_rows: int) -> None:
    """Raise :class:`InsufficientTrainingData` unless ``dataset`` has the days, rows and classes."""
    days = len(dataset.partitions)
    rows = len(dataset.frame)
    if days < min_days or rows < min_rows:
        raise InsufficientTrainingData(
            f"{what} {dataset.interval} has {days} feature partitions and {rows} labelled rows; "
            f"needs at least {min_days} days and {min_rows} rows. Run flights_daily for those "
            "days first (missing: "
            + (", ".join(str(d) for d in dataset.missing_days[:5]) or "none")
            + (" ..." if len(dataset.missing_days) > 5 else "")
            + ")"
        )
    if len(np.unique(dataset.y)) < 2:
        raise InsufficientTrainingData(f"{what} {dataset.interval} has only one outcome class")
