"""The stored side of incidents: the findings and checks of every monitored day in, the rows of
``monitoring.alerts`` out, inside the transaction of the day being monitored.

Both tables are read whole for update: if another run adds, replaces or withdraws any day of
``monitoring.findings_daily``, ``checks_daily`` or ``alerts`` before this commit, the commit
conflicts and the day is folded again on what is there now.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa

from pipelines import tables
from pipelines.monitoring import incidents as inc
from pipelines.monitoring.finding import Finding
from pipelines.monitoring.schemas import SCHEMAS
from pipelines.settings import Thresholds
from pipelines.storage import lake


def _as_finding(row: dict[str, Any]) -> Finding:
    return Finding(**{k: row[k] for k in Finding.__dataclass_fields__})


def monitored_days(
    tx: lake.Transaction, day: date, found: list[Finding], checked: frozenset[str]
) -> list[inc.MonitoredDay]:
    """Every monitored day with its findings and the kinds checked on it, in day order:
    ``day``'s from memory, the others as committed. A day monitored before checks were recorded
    counts as having checked every kind."""
    days: list[inc.MonitoredDay] = [(day, found, checked)]
    check_days = set(tx.partitions_for_update(*tables.CHECKS_DAILY.address))
    for other in tx.partitions_for_update(*tables.FINDINGS_DAILY.address):
        if other == day:
            continue
        rows = lake.read_partition(tx.root, *tables.FINDINGS_DAILY.address, other).to_pylist()
        kinds = None
        if other in check_days:
            stored = lake.read_partition(tx.root, *tables.CHECKS_DAILY.address, other)
            kinds = frozenset(r["kind"] for r in stored.to_pylist() if r["checked"])
        days.append((other, [_as_finding(r) for r in rows], kinds))
    return sorted(days, key=lambda d: d[0])


def stage_incidents(
    tx: lake.Transaction, days: list[inc.MonitoredDay], thresholds: Thresholds
) -> list[inc.Incident]:
    """Rewrite the partitions of ``monitoring.alerts`` (one per opening day) that changed, and
    withdraw those whose incidents no longer exist."""
    incidents = inc.fold(days, thresholds.resolve_after_days, thresholds.retrain_cooldown_days)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for incident in incidents:
        by_day.setdefault(incident.opened_on, []).append(incident.row())
    stored = set(tx.partitions_for_update(*tables.ALERTS.address))
    for opened in stored - set(by_day):
        tx.delete(*tables.ALERTS.address, opened)
    schema = SCHEMAS[tables.ALERTS]
    for opened, rows in by_day.items():
        fresh = pa.Table.from_pylist(rows, schema=schema)
        if opened in stored:
            current = lake.read_partition(tx.root, *tables.ALERTS.address, opened)
            if current.select(schema.names).to_pylist() == fresh.to_pylist():
                continue
        tx.write(*tables.ALERTS.address, opened, fresh)
    return incidents
