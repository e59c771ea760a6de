"""What every task adapter shares: the run's interval and id, failing fast, the warehouse refresh.

``pipelines/tasks`` is the thin, Airflow-aware adapter between a DAG's tasks and the stages: one
module per DAG, one function per task. Each takes the task's context (a mapping, so tests call it
with a dict), resolves the interval and run id, reads settings, calls one stage and returns a small
JSON-able summary for XCom.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, ParamSpec, TypeVar

from pipelines import tables
from pipelines.dates import Interval, as_date
from pipelines.errors import InvalidRunParams, PermanentError
from pipelines.settings import get_settings
from pipelines.storage import lake, snapshots
from pipelines.storage.warehouse import build_warehouse

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def fails_fast(adapter: Callable[P, R]) -> Callable[P, R]:
    """The one place that says "do not retry": a ``PermanentError`` (bad data, bad Params, no
    champion) fails the task at once, since the same input fails the same way; any other error is
    left to the task's retry policy (a late source, a connection fault)."""

    @functools.wraps(adapter)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return adapter(*args, **kwargs)
        except PermanentError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return run


def announces(adapter: Callable[P, R]) -> Callable[P, R]:
    """Stamp each asset event of the task (its outlets) with what it wrote: the partitions
    (``dt``, one per day), their row counts and the run id, read from the adapter's summary.

    The adapter's first argument is the task's context; a context without outlet events (a test
    calling the adapter with a plain dict) is left alone."""

    @functools.wraps(adapter)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        summary = adapter(*args, **kwargs)
        context = args[0] if args else kwargs.get("context")
        if not isinstance(context, Mapping) or not isinstance(summary, Mapping):
            return summary
        events, task = context.get("outlet_events"), context.get("task")
        if events is not None and task is not None:
            for asset in getattr(task, "outlets", None) or []:
                name = getattr(asset, "name", "")
                events[asset].extra = {"run_id": context.get("run_id"), **written(name, summary)}
        return summary

    return run


def written(table: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """``{"dt": [days], "rows": {day: rows}}`` of ``table`` (``layer.name``) in a task summary:
    a validation's per-day ``rows``/``quarantined`` by table, ``rows_per_day``, or per-day
    entries with ``rows``. Tables the summary does not count get their days only."""
    layer, _, name = table.partition(".")
    per_day: dict[str, Any] = {}
    if isinstance(summary.get("rows_per_day"), Mapping):
        per_day = {str(d): n for d, n in summary["rows_per_day"].items()}
    for entry in summary.get("days") or []:
        if not isinstance(entry, Mapping) or "day" not in entry:
            continue
        counts = entry.get("quarantined" if layer == "quarantine" else "rows")
        if isinstance(counts, Mapping):
            counts = counts.get(name)
        per_day[str(entry["day"])] = counts if isinstance(counts, int) else None
    if not per_day:
        return {"interval": summary.get("interval")} if summary.get("interval") else {}
    rows = {d: n for d, n in per_day.items() if n is not None}
    return {"dt": sorted(per_day), **({"rows": rows} if rows else {})}


@dataclass(frozen=True)
class RunContext:
    interval: Interval
    run_id: str

    @classmethod
    def from_airflow(cls, context: Mapping[str, Any]) -> RunContext:
        """The run's interval: the ``start``/``end`` params if given, else the data interval.

        Params let one run cover a coarse range (a month) and give dates to runs that have no data
        interval (triggered with ``logical_date: null`` or by an asset event).
        """
        params = context.get("params") or {}
        if bool(params.get("start")) != bool(params.get("end")):
            raise InvalidRunParams(
                "set both params 'start' and 'end' (YYYY-MM-DD, end exclusive) or neither; "
                f"got start={params.get('start')!r}, end={params.get('end')!r}"
            )
        start = params.get("start") or context.get("data_interval_start")
        end = params.get("end") or context.get("data_interval_end")
        if start is None or end is None:
            raise InvalidRunParams(
                "this run has no data interval: trigger it with a logical date, or set both "
                "params 'start' and 'end' (YYYY-MM-DD, end exclusive)"
            )
        try:
            interval = Interval(param_date("start", start), param_date("end", end))
        except ValueError as exc:  # an empty or reversed interval
            raise InvalidRunParams(f"params 'start'/'end' give no days to run: {exc}") from exc
        return cls(interval, str(context["run_id"]))


def param_date(name: str, value: object) -> date:
    """A date from a Param, a conf value or a data interval; anything else fails without retry.

    Params arrive as untrusted text (the Trigger form, ``--conf``, the REST API): only an ISO date
    or a datetime passes, so nothing else reaches a query or a path.
    """
    if isinstance(value, date):
        return as_date(value)
    if not isinstance(value, str) or len(value) > 32:
        raise InvalidRunParams(f"param {name!r} must be a date YYYY-MM-DD; got {value!r:.60}")
    try:
        return as_date(value)
    except ValueError:
        raise InvalidRunParams(
            f"param {name!r} must be a date YYYY-MM-DD; got {value!r:.60}"
        ) from None


@announces
@fails_fast
def refresh_warehouse(context: Mapping[str, Any]) -> dict[str, Any]:
    """Publish the lake's current snapshot to analysts, then vacuum snapshots nobody keeps."""
    settings = get_settings()
    summary = build_warehouse(
        settings.lake_root,
        settings.sql_root,
        settings.warehouse_path,
        settings.duckdb_resources(),
    )
    vacuumed = snapshots.vacuum(settings.lake_root, keep=settings.lake_snapshots_kept)
    return {
        "warehouse": str(settings.warehouse_path),
        **asdict(summary),
        "vacuum": asdict(vacuumed),
    }


def features_built(day: date) -> bool:
    """Has flights_daily built ``features.flight_features`` of ``day``? (what the sensors poke)"""
    ready = lake.has_partition(get_settings().lake_root, *tables.FLIGHT_FEATURES.address, day)
    log.info("features.flight_features dt=%s %s", day, "is built" if ready else "not built yet")
    return ready
