"""The analysts' query sandbox: every hostile construct we know of, refused; reads still work.

Most tests call ``sandbox.run_query`` in this process (fast); the child-process tests show that
the process running analyst SQL has no secret in its environment, even with /proc readable.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ops import query_process, sandbox
from pipelines.ops.sandbox import NotAQuery, QueryFailed, QueryTimeout
from pipelines.settings import QueryLimits
from pipelines.storage import lake
from pipelines.storage.warehouse import PUBLISHED_LAYERS, build_warehouse

LIMITS = QueryLimits(timeout_seconds=30, max_rows=1000)
SECRET = "postgresql://u:supersecret@h/db"


@pytest.fixture
def wh(data_dir: Path, sql_root: Path) -> dict:
    """A warehouse over two score partitions, a parquet file outside the lake, an unpublished
    ``incoming`` file inside it, and the path of a published partition file (to check hashes)."""
    root = data_dir / "lake"
    for day, n in ((date(2013, 3, 1), 3), (date(2013, 3, 2), 2)):
        rows = pa.table({"carrier": ["AA"] * n, "probability": [0.1 * (i + 1) for i in range(n)]})
        lake.write_partition(root, "scores", "flight_delay_predictions", day, rows, f"run-{day}")
    build_warehouse(root, sql_root, data_dir / "warehouse.duckdb")
    outside = data_dir / "outside.parquet"
    pq.write_table(pa.table({"secret": ["s3cr3t"]}), outside)
    incoming = root / "incoming" / "flights" / "dt=2013-03-01" / "data.parquet"
    incoming.parent.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), incoming)
    [published] = (root / "scores" / "flight_delay_predictions" / "dt=2013-03-01").glob("*.parquet")
    return {
        "warehouse": data_dir / "warehouse.duckdb",
        "readable": sandbox.readable_directories(root, PUBLISHED_LAYERS),
        "lake": root,
        "outside": outside,
        "incoming": incoming,
        "published": published,
        "tmp": data_dir,
    }


def _run(wh: dict, sql: str, limits: QueryLimits = LIMITS, **params):
    text = sql.format(**{k: v for k, v in wh.items() if isinstance(v, Path)})
    return sandbox.run_query(wh["warehouse"], wh["readable"], text, limits, params or None)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lake_files(root: Path) -> dict[str, str]:
    return {str(p): _digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


# Reads outside the published lake: DuckDB's own permission check (or catalog) refuses them.
OUTSIDE_READS = {
    "read_text environ": "select content from read_text('/proc/self/environ')",
    "read_blob environ": "select content from read_blob('/proc/self/environ')",
    "read_text passwd": "select content from read_text('/etc/passwd')",
    "read_blob passwd": "select content from read_blob('/etc/passwd')",
    "read_csv passwd": "select * from read_csv('/etc/passwd')",
    "read_csv_auto passwd": "select * from read_csv_auto('/etc/passwd')",
    "read_json passwd": "select * from read_json('/etc/passwd')",
    "read_json_auto passwd": "select * from read_json_auto('/etc/passwd')",
    "read_ndjson passwd": "select * from read_ndjson_objects('/etc/passwd')",
    "sniff_csv passwd": "select * from sniff_csv('/etc/passwd')",
    "read_parquet outside": "select * from read_parquet('{outside}')",
    "parquet_metadata outside": "select * from parquet_metadata('{outside}')",
    "replacement scan passwd": "select * from '/etc/passwd'",
    "replacement scan outside": "select * from '{outside}'",
    "glob etc": "select * from glob('/etc/*')",
    "glob lake root": "select * from glob('{lake}/*')",
    "unpublished layer": "select * from read_parquet('{incoming}')",
    "path traversal": "select * from read_parquet('{lake}/scores/../../outside.parquet')",
    "read_duckdb warehouse": "select * from read_duckdb('{warehouse}')",
    "getenv": "select getenv('NIGHTSHIFT_PUBLISH_DSN')",
    "query() of a COPY": "select * from query('copy (select 1) to ''{published}''')",
    "logging to a lake file": "select * from enable_logging(storage='file', storage_path='{lake}')",
}


@pytest.mark.parametrize("sql", OUTSIDE_READS.values(), ids=OUTSIDE_READS.keys())
def test_nothing_outside_the_published_lake_is_read(wh, monkeypatch, sql: str) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PUBLISH_DSN", SECRET)
    before = _lake_files(wh["lake"])
    with pytest.raises(QueryFailed) as refused:
        _run(wh, sql)
    assert "\n" not in str(refused.value)
    assert "supersecret" not in str(refused.value) and "s3cr3t" not in str(refused.value)
    assert _lake_files(wh["lake"]) == before


SANDBOX_SETTINGS = {
    "enable_external_access": "false",
    "lock_configuration": "true",
    "autoload_known_extensions": "false",
    "autoinstall_known_extensions": "false",
    "allow_community_extensions": "false",
    # A progress bar would print into the query process's stdout, which carries the result.
    "enable_progress_bar": "false",
}


def test_the_sandbox_settings_are_on_and_locked(wh) -> None:
    names = ", ".join(f"'{name}'" for name in SANDBOX_SETTINGS)
    sql = f"select name, value from duckdb_settings() where name in ({names})"
    rows = _run(wh, sql).table.to_pylist()
    assert {r["name"]: r["value"] for r in rows} == SANDBOX_SETTINGS


def test_no_stored_secret_is_loaded(wh) -> None:
    # Persistent secrets (~/.duckdb/stored_secrets) are off: nothing there reaches the query.
    assert _run(wh, "select * from duckdb_secrets()").table.num_rows == 0


def test_a_python_variable_is_not_a_table(wh) -> None:
    secret_table = pa.table({"dsn": [SECRET]})  # what a replacement scan would find
    with pytest.raises(QueryFailed, match="does not exist"):
        _run(wh, "select * from secret_table")
    assert secret_table.num_rows == 1


# Anything but one SELECT (or EXPLAIN of one): refused by the parser check before DuckDB runs it.
NOT_QUERIES = {
    "copy to lake": "copy (select 1 as x) to '{published}' (format parquet)",
    "copy view out": "copy scores.flight_delay_predictions to '{tmp}/out.csv'",
    "copy from": "copy scores.flight_delay_predictions from '{outside}'",
    "explain analyze copy": "explain analyze copy (select 1) to '{published}' (format parquet)",
    "explain copy": "explain copy (select 1 as x) to '{published}'",
    "explain analyze create": "explain analyze create temp table t as select 1",
    "explain options": "explain (format json) select 1",
    "attach file": "attach '{tmp}/other.duckdb' as other",
    "attach memory": "attach ':memory:' as m",
    "detach": "detach warehouse",
    "use": "use memory",
    "install": "install httpfs",
    "load": "load httpfs",
    "set external access": "set enable_external_access = true",
    "set lock": "set lock_configuration = false",
    "reset": "reset enable_external_access",
    "set variable": "set variable x = 1",
    "pragma": "pragma version",
    "pragma profiling": "pragma enable_profiling",
    "call": "call pragma_version()",
    "checkpoint": "checkpoint",
    "force checkpoint": "force checkpoint",
    "create table": "create table main.t as select 1 as y",
    "create temp table": "create temp table t as select 1 as y",
    "create view": "create view scores.v as select 1 as y",
    "create macro": "create temp macro leak() as 1",
    "create secret": "create secret s (type s3, key_id 'a', secret 'b')",
    "create sequence": "create temp sequence s",
    "insert": "insert into scores.flight_delay_predictions values ('x', 1, 'r', '2013-01-01')",
    "update": "update scores.flight_delay_predictions set probability = 1",
    "delete": "delete from scores.flight_delay_predictions",
    "drop": "drop view scores.flight_delay_predictions",
    "export database": "export database '{tmp}/exported'",
    "import database": "import database '{tmp}/exported'",
    "vacuum": "vacuum",
    "analyze": "analyze",
    "transaction": "begin transaction",
    "prepare": "prepare p as select 1",
    "pivot": "pivot scores.flight_delay_predictions on carrier",
    "two selects": "select 1; select 2",
    "select then drop": "select 1; drop view scores.flight_delay_predictions",
    "hidden after a comment": "select 1 -- harmless\n; copy (select 1) to '{published}'",
    "behind a block comment": "/* select 1 */ copy (select 1) to '{published}'",
    "only a comment": "-- select 1",
    "nothing": "   ",
}


@pytest.mark.parametrize("sql", NOT_QUERIES.values(), ids=NOT_QUERIES.keys())
def test_anything_but_one_select_is_refused(wh, sql: str) -> None:
    before = _lake_files(wh["lake"])
    with pytest.raises(NotAQuery) as refused:
        _run(wh, sql)
    assert "\n" not in str(refused.value)
    assert _lake_files(wh["lake"]) == before
    assert not (wh["tmp"] / "exported").exists() and not (wh["tmp"] / "out.csv").exists()


def test_explain_analyze_copy_leaves_the_published_partition_as_it_was(wh) -> None:
    before = _digest(wh["published"])
    sql = "EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{published}' (FORMAT parquet)"
    with pytest.raises(NotAQuery, match="EXPLAIN is allowed only of a SELECT"):
        _run(wh, sql)
    assert _digest(wh["published"]) == before
    assert _run(wh, "select count(*) as n from scores.flight_delay_predictions").table.to_pylist()


@pytest.mark.parametrize(
    "sql",
    [
        "select dt, count(*) as n from scores.flight_delay_predictions group by dt order by dt",
        "-- a comment first\nselect dt, count(*) as n from scores.flight_delay_predictions "
        "group by dt order by dt /* and last */",
        "with d as (from scores.flight_delay_predictions) "
        "select dt, count(*) as n from d group by dt order by dt",
    ],
)
def test_a_select_over_the_warehouse_views_works(wh, sql: str) -> None:
    result = _run(wh, sql)
    assert result.table.to_pylist() == [
        {"dt": date(2013, 3, 1), "n": 3},
        {"dt": date(2013, 3, 2), "n": 2},
    ]
    assert not result.truncated


def test_published_files_and_parameters_can_be_read(wh) -> None:
    sql = "select count(*) as n from read_parquet('{published}') where carrier = $carrier"
    assert _run(wh, sql, carrier="AA").table.to_pylist() == [{"n": 3}]


@pytest.mark.parametrize("prefix", ["explain", "EXPLAIN ANALYZE", "explain /* why */ analyze"])
def test_explain_of_a_select_works(wh, prefix: str) -> None:
    result = _run(wh, f"{prefix} select count(*) from scores.flight_delay_predictions")
    assert result.table.column_names == ["explain_key", "explain_value"]


@pytest.mark.parametrize("statement", ["describe", "summarize"])
def test_describe_and_summarize_work(wh, statement: str) -> None:
    result = _run(wh, f"{statement} scores.flight_delay_predictions")
    assert "carrier" in result.table.column("column_name").to_pylist()


def test_a_slow_query_is_interrupted_at_the_timeout(wh) -> None:
    slow = "select count(*) from range(100000000) a, range(100000) b where a.range + b.range = 7"
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="stopped after 1 s"):
        _run(wh, slow, QueryLimits(timeout_seconds=1, max_rows=10))
    assert time.monotonic() - started < 10


def test_the_row_limit_cuts_the_result_and_says_so(wh) -> None:
    cut = _run(wh, "select * from range(100000000)", QueryLimits(30, max_rows=10))
    assert cut.table.num_rows == 10 and cut.truncated
    exact = _run(wh, "select * from range(10)", QueryLimits(30, max_rows=10))
    assert exact.table.num_rows == 10 and not exact.truncated


def test_the_sandbox_leaves_no_locked_database_behind(wh) -> None:
    import duckdb

    _run(wh, "select 1")
    with duckdb.connect(str(wh["warehouse"]), read_only=True) as con:
        [(external,)] = con.sql("select current_setting('enable_external_access')").fetchall()
    assert external is True


def test_the_child_environment_has_no_secret_names() -> None:
    parent = {
        "PATH": "/usr/bin",
        "HOME": "/home/analyst",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NIGHTSHIFT_PUBLISH_DSN": SECRET,
        "NIGHTSHIFT_SOURCE_DSN": SECRET,
        "AIRFLOW__CORE__FERNET_KEY": "k",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": SECRET,
        "POSTGRES_PASSWORD": "p",
        "AWS_SECRET_ACCESS_KEY": "k",
        "GITHUB_TOKEN": "t",
        "NIGHTSHIFT_LAKE_ROOT": "/srv/lake",
    }
    assert query_process.scrubbed_environment(parent) == {
        "PATH": "/usr/bin",
        "HOME": "/home/analyst",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


def test_the_query_process_cannot_read_a_secret_even_with_proc_readable(wh, monkeypatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PUBLISH_DSN", SECRET)
    readable = [*wh["readable"], "/proc/"]  # deliberately opened: what if the sandbox leaked?

    def environ_of_child() -> str:
        sql = "select content from read_text('/proc/self/environ')"
        result = query_process.run_in_child(wh["warehouse"], readable, sql, LIMITS)
        return result.table.column("content")[0].as_py()

    with monkeypatch.context() as unscrubbed:
        # Control: a child given this process's whole environment can read the secret.
        unscrubbed.setattr(query_process, "scrubbed_environment", dict)
        assert "supersecret" in environ_of_child()
    content = environ_of_child()
    assert "PATH=" in content
    assert "supersecret" not in content and "NIGHTSHIFT_PUBLISH_DSN" not in content


def test_the_query_process_reports_refusals_timeouts_and_results(wh) -> None:
    def child(sql: str, limits: QueryLimits = LIMITS):
        return query_process.run_in_child(wh["warehouse"], wh["readable"], sql, limits)

    with pytest.raises(NotAQuery, match="not COPY"):
        child(f"copy (select 1) to '{wh['published']}'")
    with pytest.raises(QueryFailed, match="Permission"):
        child("select content from read_text('/proc/self/environ')")
    with pytest.raises(QueryTimeout):
        child(
            "select count(*) from range(100000000) a, range(100000) b where a.range + b.range = 7",
            QueryLimits(timeout_seconds=1, max_rows=10),
        )
    result = child("select * from range(50)", QueryLimits(30, max_rows=20))
    assert result.table.num_rows == 20 and result.truncated
