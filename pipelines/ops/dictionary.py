"""The data dictionary (``sql/dictionary.yml``): load it, render it, check it against the lake.

The YAML holds the words (grain, columns); the tables and their keys come from the registry
(``pipelines.tables``). ``docs/data_dictionary.md`` is rendered from both
(``nightshift dictionary``), and a test fails when the rendered page is stale or a documented
table's columns differ from what the pipelines write.
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


def documented_columns(dictionary: dict[str, Any], table: str) -> list[str]:
    """The columns of ``table`` a query sees: its own, plus ``dt`` and ``pipeline_run_id`` for
    lake tables (aggregating marts declare ``common_columns: false``)."""
    spec = dictionary["tables"][table]
    own = list(spec["columns"])
    if not spec.get("common_columns", True):
        return own
    return own + [c for c in COMMON if c not in own]


def render_markdown(dictionary: dict[str, Any]) -> str:
    lines = [
        "# Data dictionary",
        "",
        "<!-- Rendered from sql/dictionary.yml by `nightshift dictionary`: edit the YAML. -->",
        "",
        "Every table below is a view in `data/warehouse.duckdb` (open it read-only); each has:",
        "",
    ]
    lines += [f"- `{name}`: {text}" for name, text in dictionary["common_columns"].items()]
    lines.append("")
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
        lines += ["| column | meaning |", "|---|---|"]
        lines += [f"| `{c}` | {text} |" for c, text in spec["columns"].items()]
        lines.append("")
    return "\n".join(lines)
