"""Where the ``files`` source's landing zone keeps a table's day: ``<landing>/<table>/<day>.csv``.

Import-free (only ``pathlib``), so the CLI can check that a day has landed before it starts
anything heavy."""

from __future__ import annotations

from datetime import date
from pathlib import Path


def landing_file(landing_root: Path, table: str, day: date) -> Path:
    return Path(landing_root) / table / f"{day.isoformat()}.csv"
