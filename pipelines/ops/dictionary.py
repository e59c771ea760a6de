"""The data dictionary (``sql/dictionary.yml``): load it, render it, check it against the lake.

The YAML holds the words (schemas, grain, columns with their DuckDB types); the tables and their
keys come from the registry (``pipelines.tables``). ``docs/data_dictionary.md`` is rendered from
both (``nightshift dictionary``), and a test fails when the rendered page is stale or a documented
table's columns or their types differ from what the warehouse shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipelines import tables

DICTIONARY_FILE = "dictionary.yml"
COMMON = ("dt", "pipeline_run_id")


def load(sql_root: Path) -> dict[str, Any]:
    return yaml.safe_load((Path(sql_root) / DICTIONARY_FILE).read_text(encoding="utf-8"))


def listed_columns(dictionary: dict[str, Any], table: str) -> dict[str, dict[str, str]]:
    """Column -> ``{type, meaning}`` as the table's section lists them: those of its
    ``columns_like`` table first (if it names one), then its own."""
    spec = dictionary["tables"][table]
    like = spec.get("columns_like")
    return {**(dictionary["tables"][like]["columns"] if like else {}), **spec["columns"]}


def columns(dictionary: dict[str, Any], table: str) -> dict[str, dict[str, str]]:
    """Every column of ``table``: the listed ones, then ``dt`` and ``pipeline_run_id`` (lake
    tables; views without them declare ``common_columns: false``)."""
    found = listed_columns(dictionary, table)
    if dictionary["tables"][table].get("common_columns", True):
        for name in COMMON:
            found.setdefault(name, dictionary["common_columns"][name])
    return found


def documented_columns(dictionary: dict[str, Any], table: str) -> list[str]:
    """The columns of ``table`` a query sees (see :func:`columns`)."""
    return list(columns(dictionary, table))


def documented_types(dictionary: dict[str, Any], table: str) -> dict[str, str]:
    """Column -> DuckDB type (as ``DESCRIBE`` names it) of ``table``."""
    return {name: str(column["type"]) for name, column in columns(dictionary, table).items()}


def _schema_section(dictionary: dict[str, Any]) -> list[str]:
    by_schema: dict[str, list[str]] = {}
    for table in dictionary["tables"]:
        by_schema.setdefault(table.split(".")[0], []).append(table)
    lines = ["## Schemas", "", "| schema | what it holds | tables |", "|---|---|---|"]
    for schema, text in dictionary["schemas"].items():
        names = ", ".join(f"[`{t}`](#{t.replace('.', '')})" for t in by_schema.get(schema, []))
        lines.append(f"| `{schema}` | {text} | {names} |")
    return [*lines, ""]


def render_markdown(dictionary: dict[str, Any]) -> str:
    lines = [
        "# Data dictionary",
        "",
        "<!-- Rendered from sql/dictionary.yml by `nightshift dictionary`: edit the YAML. -->",
        "",
        "Every table below is a view in `data/warehouse.duckdb` (open it read-only, or query it "
        "with `.venv/bin/nightshift query`). Types are DuckDB's. Every lake table also has:",
        "",
    ]
    lines += [
        f"- `{name}` ({spec['type']}): {spec['meaning']}"
        for name, spec in dictionary["common_columns"].items()
    ]
    lines += ["", *_schema_section(dictionary)]
    for table, spec in dictionary["tables"].items():
        lines += [
            f"## `{table}`",
            "",
            f"Grain: {spec['grain']}. Key: `{', '.join(tables.by_name(table).key)}`."
            + ("" if spec.get("common_columns", True) else " No `dt` / `pipeline_run_id`."),
            "",
        ]
        if spec.get("note"):
            lines += [spec["note"], ""]
        if spec.get("columns_like"):
            lines += [f"The columns of `{spec['columns_like']}`, then its own.", ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        lines += [
            f"| `{c}` | {col['type']} | {col['meaning']} |"
            for c, col in listed_columns(dictionary, table).items()
        ]
        lines.append("")
    return "\n".join(lines)
