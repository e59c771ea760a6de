"""Where ``nightshift query -o FILE`` writes a result: the file's extension picks the format.

``.csv`` (header row), ``.parquet``, or ``.json``: JSON Lines, one object per row (column name ->
value; dates and timestamps as ISO 8601 strings, NaN and infinities as null). JSON Lines rather
than one array, so a large result streams into ``jq``, ``pandas.read_json(lines=True)`` or
DuckDB's ``read_json`` without being held whole in memory.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

FORMATS = (".csv", ".parquet", ".json")


class UnknownOutputFormat(ValueError):
    pass


def check_output_path(path: str) -> Path:
    """``path`` as a Path, if its extension is a format this writes; else one-line refusal."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise UnknownOutputFormat(
            f"-o {path}: the file name must end in {', '.join(FORMATS)} (it picks the format)"
        )
    return target


def _jsonable(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _write_json_lines(table: pa.Table, target: Path) -> None:
    with target.open("w", encoding="utf-8") as out:
        for batch in table.to_batches():
            for row in batch.to_pylist():
                out.write(json.dumps(_jsonable(row), ensure_ascii=False, default=str) + "\n")


def write_result(table: pa.Table, target: Path) -> None:
    """Write ``table`` to ``target`` in the format its extension names."""
    suffix = check_output_path(str(target)).suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, target)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, target)
    else:
        _write_json_lines(table, target)
