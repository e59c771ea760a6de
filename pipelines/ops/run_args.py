"""The CLI's argument checks, done before Airflow starts (its import and DB migration take
seconds, and its errors are tracebacks): each bad argument is one line and exit code 2."""

from __future__ import annotations

import ast
import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipelines.dates import Interval, as_date
from pipelines.settings import REPO_ROOT

USAGE_EXIT_CODE = 2


class UsageError(ValueError):
    """An argument is wrong; the message, one line, says which and what would be right."""


def parse_day(value: str, flag: str) -> date:
    try:
        return as_date(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a calendar day (YYYY-MM-DD)") from None


def parse_interval(start: str, end: str) -> Interval:
    first, stop = parse_day(start, "--start"), parse_day(end, "--end")
    if stop <= first:
        raise UsageError(
            f"--end {stop} must be after --start {first} (--end is the day after the last one)"
        )
    return Interval(first, stop)


def dags_folder() -> Path:
    """The folder Airflow will parse: the environment's, else the embedded default (this repo's)."""
    return Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or REPO_ROOT / "dags")


def _dag_ids_in(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "dag_id" and isinstance(kw.value, ast.Constant):
                    found.add(str(kw.value.value))
    return found


def known_dag_ids(folder: Path | None = None) -> list[str]:
    """The ``dag_id="..."`` literals of the DAG files, read as text (no Airflow, no import).

    Every DAG here names its id so (tests check the list against Airflow's DagBag); a file that
    does not parse is skipped: Airflow would report it as an import error anyway.
    """
    found: set[str] = set()
    for path in sorted((folder or dags_folder()).rglob("*.py")):
        try:
            found |= _dag_ids_in(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
    return sorted(found)


def check_dag_id(dag_id: str, folder: Path | None = None) -> None:
    known = known_dag_ids(folder)
    if dag_id not in known:
        raise UsageError(f"unknown DAG {dag_id!r}; the DAGs are: {', '.join(known) or 'none'}")


# The landing feed that a run of day D reads first, and its day relative to D: a day with no
# such file in the landing zone has nothing to run on.
LANDING_FEEDS = {"flights_daily": ("flights", 0), "flight_delay_scoring": ("schedule", 1)}


def check_landing(dag_id: str, interval: Interval, landing_root: Path) -> None:
    """Refuse days whose landing file is absent (embedded default: ``source_kind`` files).

    A nightly run in production waits for a late file (extract retries); a command run by hand on
    days that have none is a mistake, said before Airflow starts."""
    if dag_id not in LANDING_FEEDS:
        return
    from pipelines.ingest.sources.layout import landing_file

    table, offset = LANDING_FEEDS[dag_id]
    read = [d + timedelta(days=offset) for d in interval.days()]
    missing = [d for d in read if not landing_file(landing_root, table, d).exists()]
    if missing:
        days = str(missing[0]) if len(missing) == 1 else f"{missing[0]}..{missing[-1]}"
        runs = f"the runs of {interval} read" if offset else f"{len(missing)} of {len(read)} days:"
        raise UsageError(
            f"{runs} no {table} landing file for {days} (in {Path(landing_root) / table}): "
            f"write them with `nightshift generate-landing --start {read[0]} --end "
            f"{read[-1] + timedelta(days=1)}` (the sample covers 2013)"
        )


def parse_conf(text: str | None) -> dict[str, Any] | None:
    """``--conf``: a JSON object of params (their names and values are checked against the DAG
    once it is parsed, still before any run)."""
    if not text:
        return None
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--conf is not valid JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(conf, dict):
        raise UsageError(
            f"--conf must be a JSON object of params, like '{{\"window_days\": 59}}'; "
            f"got a {type(conf).__name__}"
        )
    return conf
