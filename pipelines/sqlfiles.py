"""The one SQL loader: ``sql/<layer>/<name>.sql`` files, read as text and run with bound values."""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SqlFileNotFound(FileNotFoundError):
    pass


def load_sql(sql_root: Path, layer: str, name: str) -> str:
    """Text of ``<sql_root>/<layer>/<name>.sql``."""
    if not (_NAME.match(layer) and _NAME.match(name)):
        raise ValueError(f"SQL file names are lower_snake_case, got {layer}/{name}")
    path = Path(sql_root) / layer / f"{name}.sql"
    if not path.exists():
        raise SqlFileNotFound(f"no SQL file {path} (NIGHTSHIFT_SQL_ROOT={sql_root})")
    return path.read_text(encoding="utf-8")


def layer_models(sql_root: Path, layer: str) -> list[str]:
    """Names of the SQL models of one layer, in file-name order."""
    folder = Path(sql_root) / layer
    return sorted(p.stem for p in folder.glob("*.sql") if _NAME.match(p.stem))
