"""``nightshift query``: sandboxed SQL against the warehouse, printed or written to a file."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from pipelines.ops.cli import main
from pipelines.ops.summaries import NotAQuery, query
from pipelines.settings import get_settings
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
        "explain analyze copy (select 1 as x) to '{target}' (format parquet)",
        "select 1; drop view scores.flight_delay_predictions",
    ],
)
def test_query_cannot_write(warehouse, data_dir, capsys, sql: str) -> None:
    folder = data_dir / "lake" / "scores" / "flight_delay_predictions" / "dt=2013-03-01"
    [target] = folder.glob("*.parquet")
    before = target.read_bytes()
    assert main(["query", sql.format(target=target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("query refused: ") and "\n" not in err
    assert target.read_bytes() == before
    assert main(["query", "select count(*) from scores.flight_delay_predictions"]) == 0


def test_query_outside_the_lake_fails_in_one_line(warehouse, capsys) -> None:
    assert main(["query", "select content from read_text('/proc/self/environ')"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("query failed: Permission Error") and "\n" not in err


def test_query_writes_json_lines(warehouse, tmp_path, capsys) -> None:
    sql = "select dt, count(*) as n from scores.flight_delay_predictions group by dt order by dt"
    assert main(["query", sql, "-o", str(tmp_path / "out.json")]) == 0
    lines = (tmp_path / "out.json").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"dt": "2013-03-01", "n": 3},
        {"dt": "2013-03-02", "n": 2},
    ]


def test_query_refuses_an_unknown_output_format_before_running(warehouse, tmp_path, capsys):
    assert main(["query", "select 1", "-o", str(tmp_path / "out.xlsx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and ".csv, .parquet, .json" in err
    assert not (tmp_path / "out.xlsx").exists()


def test_query_says_when_the_row_limit_cut_the_result(warehouse, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NIGHTSHIFT_QUERY_MAX_ROWS", "100")
    get_settings.cache_clear()
    assert main(["query", "select * from range(1000000)", "-o", str(tmp_path / "r.csv")]) == 0
    assert pacsv.read_csv(tmp_path / "r.csv").num_rows == 100
    assert "result cut at 100 rows" in capsys.readouterr().err


def test_query_timeout_fails_with_the_setting_named(warehouse, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NIGHTSHIFT_QUERY_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    slow = "select count(*) from range(100000000) a, range(100000) b where a.range + b.range = 7"
    assert main(["query", slow]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "query failed: stopped after 1 s (NIGHTSHIFT_QUERY_TIMEOUT_SECONDS=1)"


def test_scores_queries_run_in_the_sandbox_with_parameters(warehouse) -> None:
    sql = "select count(*) as n from scores.flight_delay_predictions where dt = $day"
    table = query(warehouse, sql, {"day": date(2013, 3, 1)})
    assert table.to_pylist() == [{"n": 3}]
    with pytest.raises(NotAQuery):
        query(warehouse, "copy (select 1) to '/tmp/x.csv'")


def test_query_without_a_warehouse_says_how_to_get_one(data_dir, capsys) -> None:
    assert main(["query", "select 1"]) == 2
    assert "make demo" in capsys.readouterr().err
