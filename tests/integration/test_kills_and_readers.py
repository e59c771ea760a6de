"""A day commits all or nothing: SIGKILL at many points of a day's run, and an analyst querying
in a loop during a backfill, never see a half-written day.

The run of a day is the stage functions the flights_daily tasks call (extract, validate and
publish, build features, refresh the warehouse), in a child process that kills itself with
SIGKILL at the n-th ``os.replace`` (every data file and every commit goes through one).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest.sources.files import generate_landing
from pipelines.storage import lake, snapshots
from tests.fixtures import real_lake

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SQL_ROOT = REPO / "sql"
BEFORE = Interval.of("2013-01-01", "2013-01-03")  # published before the run under test
DAY = date(2013, 1, 3)
DAY_TABLES = [tables.raw("flights"), tables.raw("weather"), tables.VALIDATION_RESULTS]

# The run of one day, as the DAG's tasks do it; `at` > 0 kills it at the at-th os.replace.
_RUN_DAY = textwrap.dedent(
    """
    import json, os, signal, sys
    from datetime import date
    from pathlib import Path
    lake_root, landing, sql_root, day, at, run = sys.argv[1:7]
    at, calls = int(at), [0]
    real_replace = os.replace
    def replace(*args, **kwargs):
        calls[0] += 1
        if calls[0] == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(*args, **kwargs)
    os.replace = replace
    from pipelines.dates import Interval
    from pipelines.features.build import build_flight_features
    from pipelines.ingest.extract import extract
    from pipelines.ingest.sources.files import FilesSource
    from pipelines.ingest.validate import validate_and_publish
    from pipelines.settings import Settings
    from pipelines.storage.warehouse import build_warehouse
    days, root = Interval.day(date.fromisoformat(day)), Path(lake_root)
    extract(FilesSource(Path(landing)), root, days, run)
    validate_and_publish(root, days, run, Settings().row_count_bounds())
    build_flight_features(root, Path(sql_root), days, run, date(2013, 1, 1))
    build_warehouse(root, Path(sql_root), root.parent / "warehouse.duckdb")
    print(json.dumps({"replaces": calls[0]}))
    """
)


def _run_day(home: Path, at: int = 0, run: str = "run-d3") -> subprocess.CompletedProcess:
    args = [str(home / "lake"), str(home / "landing"), str(SQL_ROOT), str(DAY), str(at), run]
    return subprocess.run(
        [sys.executable, "-c", _RUN_DAY, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _hashes(lake_root: Path, days: Interval) -> dict[str, str]:
    """The bytes of every partition of the days before the run, by table and day."""
    found = {}
    for table in (*DAY_TABLES, tables.FLIGHT_FEATURES):
        for day in days.days():
            path = lake.partition_file(lake_root, *table.address, day)
            assert path is not None, (table, day)
            found[f"{table}/{day}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _day_state(lake_root: Path) -> tuple[set[str], bool]:
    """The runs that wrote the day's raw/validation partitions, and whether features exist."""
    runs = set()
    for table in DAY_TABLES:
        if lake.has_partition(lake_root, *table.address, DAY):
            data = lake.read_partition(lake_root, *table.address, DAY)
            runs |= set(data.column(lake.RUN_ID_COLUMN).to_pylist()) or {"(empty)"}
        else:
            runs.add("(absent)")
    return runs, lake.has_partition(lake_root, *tables.FLIGHT_FEATURES.address, DAY)


def _rows(lake_root: Path, table: tables.LakeTable) -> list[tuple]:
    data = lake.read_partition(lake_root, *table.address, DAY).drop_columns([lake.RUN_ID_COLUMN])
    keep = [c for c in data.column_names if c != "unexpected_sample"]
    return sorted(map(tuple, (r.values() for r in data.select(keep).to_pylist())), key=repr)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("kills")
    generate_landing(home / "landing", Interval.of("2013-01-01", "2013-01-09"))
    real_lake.publish_actuals(home / "lake", home / "landing", SQL_ROOT, BEFORE)
    return home


@pytest.fixture(scope="module")
def reference(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted run of the day: how many replaces it makes, and the rows it writes."""
    home = tmp_path_factory.mktemp("reference")
    shutil.copytree(built, home, dirs_exist_ok=True)
    done = _run_day(home)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {t.qualified: _rows(home / "lake", t) for t in (*DAY_TABLES, tables.FLIGHT_FEATURES)}
    return {"replaces": json.loads(done.stdout.splitlines()[-1])["replaces"], "rows": rows}


def test_a_kill_anywhere_in_a_days_run_leaves_the_old_or_the_new_day_and_the_retry_completes(
    built: Path, reference: dict, tmp_path: Path
) -> None:
    total = reference["replaces"]
    assert total >= 12, "the run should commit its stages in several steps"
    # Twelve points spread over the run, each commit point among them (every other step).
    points = sorted({max(1, round(i * total / 12)) for i in range(1, 13)} | {total})
    assert len(points) >= 10
    for at in points:
        home = tmp_path / f"kill-{at}"
        shutil.copytree(built, home)
        before = _hashes(home / "lake", BEFORE)

        killed = _run_day(home, at=at)

        assert killed.returncode == -9, (at, killed.returncode, killed.stderr[-1000:])
        runs, has_features = _day_state(home / "lake")
        # The day's raw tables and evidence come from one commit: all absent or all present.
        assert runs in ({"(absent)"}, {"run-d3"}), (at, runs)
        assert not has_features or runs == {"run-d3"}, at
        assert _hashes(home / "lake", BEFORE) == before, f"kill at {at} changed an earlier day"
        if (home / "warehouse.duckdb").exists():  # the warehouse, when built, stays readable
            with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
                assert con.execute("select count(*) from raw.flights").fetchall()[0][0] > 0

        retried = _run_day(home, run="retry")
        assert retried.returncode == 0, (at, retried.stderr[-2000:])
        for name, rows in reference["rows"].items():
            assert _rows(home / "lake", tables.by_name(name)) == rows, (at, name)


_ANALYST = textwrap.dedent(
    """
    import json, sys, time
    import duckdb
    warehouse, seconds = sys.argv[1], float(sys.argv[2])
    # A day is partial when its features disagree with its raw flights, or it has raw flights
    # without validation evidence.
    check = '''
        with r as (select dt, count(*) as n from raw.flights group by dt),
        f as (select dt, count(*) as n from features.flight_features group by dt),
        q as (select distinct dt from quality.validation_results)
        select
            (select count(*) from r),
            (select count(*) from f left join r using (dt) where r.n is distinct from f.n),
            (select count(*) from r where dt not in (select dt from q))
    '''
    queries = errors = partial = 0
    messages = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with duckdb.connect(warehouse, read_only=True) as con:
                days, mismatched, unvalidated = con.execute(check).fetchone()
            partial += mismatched + unvalidated
            queries += 1
        except duckdb.Error as exc:
            errors += 1
            messages.append(str(exc)[:200])
        time.sleep(0.02)
    print(json.dumps({"queries": queries, "errors": errors, "partial": partial,
                      "messages": messages[:3]}))
    """
)


def test_an_analyst_querying_in_a_loop_during_a_backfill_sees_no_error_and_no_partial_day(
    built: Path, tmp_path: Path
) -> None:
    from pipelines.features.build import build_flight_features
    from pipelines.ingest.extract import extract
    from pipelines.ingest.sources.files import FilesSource
    from pipelines.ingest.validate import validate_and_publish
    from pipelines.settings import Settings
    from pipelines.storage.warehouse import build_warehouse

    home = tmp_path / "backfill"
    shutil.copytree(built, home)
    root, warehouse = home / "lake", home / "warehouse.duckdb"
    build_warehouse(root, SQL_ROOT, warehouse)
    analyst = subprocess.Popen(
        [sys.executable, "-c", _ANALYST, str(warehouse), "25"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    days = Interval.of("2013-01-03", "2013-01-08")
    # Day by day, each stage commits and the warehouse is republished after every commit.
    for day in days.days():
        one = Interval.day(day)
        extract(FilesSource(home / "landing"), root, one, f"backfill__{day}")
        build_warehouse(root, SQL_ROOT, warehouse)
        validate_and_publish(root, one, f"backfill__{day}", Settings().row_count_bounds())
        build_warehouse(root, SQL_ROOT, warehouse)
        build_flight_features(root, SQL_ROOT, one, f"backfill__{day}", date(2013, 1, 1))
        build_warehouse(root, SQL_ROOT, warehouse)
    out, _ = analyst.communicate(timeout=120)
    seen = json.loads(out.splitlines()[-1])

    assert seen["errors"] == 0, seen["messages"]
    assert seen["partial"] == 0
    assert seen["queries"] >= 50, seen
    assert time.monotonic() - started < 120
    assert len(lake.list_partitions(root, *tables.FLIGHT_FEATURES.address)) == 7
    assert snapshots.current_id(root) is not None
