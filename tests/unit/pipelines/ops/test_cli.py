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


def _predictions(day: date, n: int) -> pa.Table:
    """The columns of scores.flight_delay_predictions that `nightshift scores` prints."""
    return pa.table(
        {
            "flight_date": [day] * n,
            "scheduled_departure": [f"{day} 0{i}:00" for i in range(n)],
            "carrier": ["AA"] * n,
            "flight_number": list(range(n)),
            "origin": ["JFK"] * n,
            "dest": ["LAX"] * n,
            "probability": [0.1 * (i + 1) for i in range(n)],
            "risk_band": ["low"] * n,
            "model_version": ["1"] * n,
        }
    )


@pytest.fixture
def scored(data_dir, sql_root):
    """A warehouse with scores for 2013-03-01..02 and 2013-03-05."""
    root = data_dir / "lake"
    for day in (date(2013, 3, 1), date(2013, 3, 2), date(2013, 3, 5)):
        lake.write_partition(
            root, "scores", "flight_delay_predictions", day, _predictions(day, 3), "r"
        )
    build_warehouse(root, sql_root, data_dir / "warehouse.duckdb")


def test_scores_of_an_unscored_day_name_the_scored_days(scored, capsys) -> None:
    assert main(["scores", "--day", "2013-04-01", "--start", "2013-03-01"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        "nightshift scores: no scores for 2013-04-01; scored days: "
        "2013-03-01 to 2013-03-02, 2013-03-05 (3 days)"
    )
    assert captured.out == ""  # no empty tables


def test_scores_of_a_scored_day_print_its_riskiest_flights(scored, capsys) -> None:
    main(["scores", "--day", "2013-03-05", "--start", "2013-03-01"])
    out = capsys.readouterr().out
    assert "Ten riskiest flights scheduled on 2013-03-05" in out
    assert out.count("JFK") == 3


def test_scores_before_anything_was_scored_say_how_to_score(data_dir, sql_root, capsys) -> None:
    root = data_dir / "lake"
    lake.write_partition(root, "quality", "checks", date(2013, 3, 1), pa.table({"x": [1]}), "r")
    build_warehouse(root, sql_root, data_dir / "warehouse.duckdb")
    assert main(["scores", "--day", "2013-03-01", "--start", "2013-03-01"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nightshift scores: no scores for 2013-03-01; scored days: none")
    assert "flight_delay_scoring" in err and "\n" not in err


def test_scores_without_a_warehouse_say_how_to_get_one(data_dir, capsys) -> None:
    assert main(["scores", "--day", "2013-03-01", "--start", "2013-03-01"]) == 2
    assert "make demo" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("start", "end"),
    [("2014-01-01", "2014-01-05"), ("2012-12-30", "2013-01-02"), ("2013-12-30", "2014-01-02")],
)
def test_generate_landing_outside_2013_refuses_and_writes_nothing(
    data_dir, capsys, start: str, end: str
) -> None:
    assert main(["generate-landing", "--start", start, "--end", end]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nightshift generate-landing: ") and "\n" not in err
    assert "2013-01-01 to 2013-12-31" in err
    assert not (data_dir / "landing").exists()


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet", ".JSON"])
def test_query_output_format_follows_the_extension(warehouse, tmp_path, suffix: str) -> None:
    sql = "select dt, count(*) as n from scores.flight_delay_predictions group by dt order by dt"
    target = tmp_path / f"out{suffix}"
    assert main(["query", sql, "-o", str(target)]) == 0
    kind = suffix.lower()
    if kind == ".json":
        assert json.loads(target.read_text().splitlines()[0]) == {"dt": "2013-03-01", "n": 3}
    elif kind == ".parquet":
        assert pq.read_table(target).num_rows == 2
    else:
        assert target.read_text().splitlines()[0] == '"dt","n"'


def test_models_rounds_metrics_and_links_the_classic_ml_view(mlflow_store, tmp_path, capsys):
    from pipelines.storage import registry

    client = registry.client(mlflow_store)
    experiment_id = registry.ensure_experiment(client, "flight_delay", tmp_path / "art")
    client.create_registered_model("flight_delay")
    client.create_model_version("flight_delay", source=(tmp_path / "model").as_uri())
    client.set_model_version_tag("flight_delay", "1", "promotion.challenger_brier", "0.156789")
    client.set_model_version_tag("flight_delay", "1", "promotion.decision", "promoted")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    [row] = [line.split() for line in out.splitlines() if line.startswith("1 ")]
    assert "0.1568" in row and "0.1567" not in row and "promoted" in row
    assert f"#/experiments/{experiment_id}/runs?workflowType=machine_learning" in out
    assert "#/models/flight_delay?workflowType=machine_learning" in out
