"""``nightshift query``: read-only SQL against the warehouse, printed or written to CSV/Parquet."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from pipelines.ops.cli import main
from pipelines.storage import lake
from pipelines.storage.warehouse import build_warehouse


@pytest.fixture
def warehouse(data_dir, sql_root):
    root = data_dir / "lake"
    for day, n in ((date(2013, 3, 1), 3), (date(2013, 3, 2), 2)):
        rows = pa.table({"carrier": ["AA"] * n, "probability": [0.1 * (i + 1) for i in range(n)]})
        lake.write_partition(root, "scores", "flight_delay_predictions", day, rows, f"run-{day}")
    build_warehouse(root, sql_root, data_dir / "warehouse.duckdb")
    return data_dir / "warehouse.duckdb"


def test_query_prints_a_table(warehouse, capsys) -> None:
    sql = "select dt, count(*) as n from scores.flight_delay_predictions group by dt order by dt"
    assert main(["query", sql]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["dt", "n"]
    assert out[2].split() == ["2013-03-01", "3"]
    assert out[3].split() == ["2013-03-02", "2"]


def test_query_writes_csv_and_parquet(warehouse, tmp_path) -> None:
    sql = "select carrier, probability, pipeline_run_id from scores.flight_delay_predictions"
    assert main(["query", sql, "-o", str(tmp_path / "out.csv")]) == 0
    assert pacsv.read_csv(tmp_path / "out.csv").num_rows == 5
    assert main(["query", sql, "-o", str(tmp_path / "out.parquet")]) == 0
    table = pq.read_table(tmp_path / "out.parquet")
    assert set(table.column("pipeline_run_id").to_pylist()) == {"run-2013-03-01", "run-2013-03-02"}


@pytest.mark.parametrize(
    "sql",
    [
        "create table main.x as select 1 as y",
        "drop view scores.flight_delay_predictions",
        # A read-only connection would still run this, over a lake partition.
        "copy (select 1 as x) to '{target}' (format parquet)",
        "select 1; drop view scores.flight_delay_predictions",
    ],
)
def test_query_cannot_write(warehouse, data_dir, capsys, sql: str) -> None:
    target = data_dir / "lake" / "scores" / "flight_delay_predictions" / "dt=2013-03-01"
    before = (target / "data.parquet").read_bytes()
    assert main(["query", sql.format(target=target / "data.parquet")]) == 1
    assert "query failed" in capsys.readouterr().err
    assert (target / "data.parquet").read_bytes() == before
    assert main(["query", "select count(*) from scores.flight_delay_predictions"]) == 0


def test_query_without_a_warehouse_says_how_to_get_one(data_dir, capsys) -> None:
    assert main(["query", "select 1"]) == 2
    assert "make demo" in capsys.readouterr().err
