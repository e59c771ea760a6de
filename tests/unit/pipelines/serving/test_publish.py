"""Publishing refuses a partition that does not fit the application table, before connecting.

The transaction itself (upsert, stale rows deleted, all or nothing) runs against the local
PostgreSQL in tests/integration/test_scoring.py.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.serving.publish import COLUMNS, KEY, TABLE, PublishError, publish_predictions
from pipelines.serving.schema import PREDICTION_SCHEMA

DAY = date(2013, 3, 15)
# A DSN that cannot be reached: the checks must fail before any connection is attempted.
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"


def _predictions(*days: date) -> pa.Table:
    rows = [
        {
            "flight_date": d,
            "carrier": "UA",
            "flight_number": i + 1,
            "origin": "EWR",
            "dest": "ORD",
            "scheduled_departure": datetime(d.year, d.month, d.day, 6),
            "probability": 0.3,
            "risk_band": "medium",
            "model_name": "flight_delay",
            "model_version": "1",
            "mlflow_run_id": "r",
            "model_trained_as_of": date(2013, 3, 1),
        }
        for i, d in enumerate(days)
    ]
    table = pa.Table.from_pylist(rows, schema=PREDICTION_SCHEMA)
    return table.append_column("pipeline_run_id", pa.array(["run"] * len(rows)))


def test_the_application_table_mirrors_the_lake_table() -> None:
    assert TABLE == "flight_delay_predictions"
    assert KEY == ("flight_date", "carrier", "flight_number", "origin")
    assert COLUMNS[-1] == "pipeline_run_id"


def test_rows_of_another_day_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        PublishError, match=r"holds rows of other days: \[datetime.date\(2013, 3, 16"
    ):
        publish_predictions(UNREACHABLE, "app", DAY, _predictions(DAY, date(2013, 3, 16)))


def test_missing_columns_are_refused() -> None:
    with pytest.raises(PublishError, match="lack columns"):
        publish_predictions(UNREACHABLE, "app", DAY, _predictions(DAY).drop_columns(["risk_band"]))


def test_a_partition_file_is_checked_batch_by_batch_before_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipelines.serving.publish.BATCH_ROWS", 1)
    path = tmp_path / "predictions.parquet"
    pq.write_table(_predictions(DAY, DAY, date(2013, 3, 16)), path, row_group_size=1)
    with pq.ParquetFile(path) as partition, pytest.raises(PublishError, match="other days"):
        publish_predictions(UNREACHABLE, "app", DAY, partition)
    pq.write_table(_predictions(DAY).drop_columns(["risk_band"]), path)
    with pq.ParquetFile(path) as partition, pytest.raises(PublishError, match="lack columns"):
        publish_predictions(UNREACHABLE, "app", DAY, partition)
