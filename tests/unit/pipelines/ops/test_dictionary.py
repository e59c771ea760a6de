"""The data dictionary lists every registered table, schema by schema, with column types.

The comparison with a real warehouse's columns and types is in tests/integration/test_scoring.py.
"""

from __future__ import annotations

import re

from pipelines import tables
from pipelines.ops import dictionary
from pipelines.settings import REPO_ROOT

# The type names DuckDB's DESCRIBE gives (what the integration test compares with).
DUCKDB_TYPE = re.compile(
    r"^(BIGINT|BOOLEAN|DATE|DOUBLE|FLOAT|HUGEINT|INTEGER|SMALLINT|TINYINT|UBIGINT|UINTEGER|"
    r"VARCHAR|TIMESTAMP|TIMESTAMP WITH TIME ZONE|DECIMAL\(\d+,\d+\)|[A-Z]+\[\])$"
)


def test_the_dictionary_lists_exactly_the_registry_tables_in_order(sql_root) -> None:
    spec = dictionary.load(sql_root)
    assert list(spec["tables"]) == [t.qualified for t in tables.published()]
    # Every schema is introduced, in the order its tables come.
    layers = list(dict.fromkeys(t.layer for t in tables.published()))
    assert list(spec["schemas"]) == layers
    assert {"staging", "quarantine"} <= set(layers)


def test_every_column_has_a_duckdb_type_and_a_meaning(sql_root) -> None:
    spec = dictionary.load(sql_root)
    for table in spec["tables"]:
        for name, column in dictionary.columns(spec, table).items():
            assert DUCKDB_TYPE.match(str(column.get("type"))), (table, name, column)
            assert str(column.get("meaning", "")).strip(), (table, name)


def test_a_quarantine_table_has_its_source_columns_then_the_reason(sql_root) -> None:
    spec = dictionary.load(sql_root)
    raw = dictionary.documented_types(spec, "raw.flights")
    quarantined = dictionary.documented_types(spec, "quarantine.flights")
    assert quarantined == {**raw, "quarantine_reason": "VARCHAR"}
    assert list(quarantined)[-3:] == ["quarantine_reason", "dt", "pipeline_run_id"]
    # Staging views have no lake columns of their own.
    assert "dt" not in dictionary.documented_columns(spec, "staging.stg_weather")


def test_the_rendered_page_shows_types_and_is_up_to_date(sql_root) -> None:
    spec = dictionary.load(sql_root)
    page = dictionary.render_markdown(spec)
    assert "| `sched_dep_hour_utc` | TIMESTAMP WITH TIME ZONE | " in page
    assert "## `quarantine.weather`" in page and "## `staging.stg_planes`" in page
    assert "| `quarantine` | " in page  # the schema overview
    rendered = (REPO_ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert rendered == page, "run `nightshift dictionary`"
