"""Incidents: the findings of consecutive days folded into one row per problem.

An incident is keyed by its kind and subject (``drift`` of the ``weather`` feed, ``performance``
of the model). It opens on the first day with such a finding, is updated (last seen, worst
severity, latest evidence) on every later day that has one, and resolves after
``resolve_after_days`` monitored days without one. A problem that comes back later opens a new
incident. A day on which a kind of check could not run (no predictions to judge performance, no
training profile to judge drift) is not a quiet day for that kind. An incident's remedy is the
most serious of its findings': a broken feed outranks retraining. Retraining is requested once
per incident while its remedy is retraining, at most once per ``retrain_cooldown_days`` across
incidents (an incident opened during the cool-down asks once it ends), so a lasting breach
cannot retrain nightly and cannot go without retraining either.

:func:`fold` is a pure function of the findings of every monitored day, so the incident table is
recomputed from them on every run: reruns, backfills and days monitored out of order all give the
same incidents.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from pipelines.monitoring.finding import (
    CRITICAL,
    FIX_FEED,
    INVESTIGATE,
    RETRAIN,
    WARNING,
    Finding,
)

OPEN, RESOLVED = "open", "resolved"
_RANK = {WARNING: 0, CRITICAL: 1}
_REMEDY_ORDER = (FIX_FEED, INVESTIGATE, RETRAIN)


@dataclass(frozen=True)
class Incident:
    incident_id: str
    kind: str
    subject: str
    severity: str
    status: str
    opened_on: date
    last_seen_on: date
    resolved_on: date | None
    days_seen: int
    remedy: str
    summary: str  # the latest day's messages
    evidence: str  # JSON: every finding of the first and the latest day
    retrain_requested_on: date | None
    quiet_days: int = field(default=0, compare=False)

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        del row["quiet_days"]
        return row


@dataclass(frozen=True)
class Change:
    """What a day did to an incident: what the notifier announces."""

    event: str  # opened, escalated, resolved, retraining requested
    incident: Incident


# One monitored day: its findings, and the kinds of check that could run on it (None: all). A
# day without predictions cannot judge performance, so it is not a quiet day for that incident.
MonitoredDay = tuple[date, list[Finding]] | tuple[date, list[Finding], frozenset[str] | None]


def fold(days: list[MonitoredDay], resolve_after: int, cooldown: int) -> list[Incident]:
    """Every incident of ``days`` (each monitored day and its findings), oldest first."""
    return _fold(days, resolve_after, cooldown)[0]


def changes_on(
    days: list[MonitoredDay], day: date, resolve_after: int, cooldown: int
) -> list[Change]:
    """What ``day`` changed: incidents it opened, escalated to critical, resolved, or that
    requested retraining on it."""
    return [c for d, c in _fold(days, resolve_after, cooldown)[1] if d == day]


def _remedy(found: list[Finding], before: str | None = None) -> str:
    """A broken feed outranks everything (retraining on it would learn the breakage), then
    what needs a person, then retraining."""
    remedies = {f.remedy for f in found} | ({before} if before else set())
    return next(r for r in _REMEDY_ORDER if r in remedies)


def _fold(
    days: list[MonitoredDay], resolve_after: int, cooldown: int
) -> tuple[list[Incident], list[tuple[date, Change]]]:
    done: list[Incident] = []
    open_: dict[tuple[str, str], Incident] = {}
    first_evidence: dict[tuple[str, str], list[dict[str, Any]]] = {}
    changes: list[tuple[date, Change]] = []
    last_retrain: date | None = None

    def may_retrain(day: date) -> bool:
        return last_retrain is None or day - last_retrain >= timedelta(days=cooldown)

    for entry in sorted(days, key=lambda d: d[0]):
        day, findings = entry[0], entry[1]
        checked = entry[2] if len(entry) > 2 else None
        by_key: dict[tuple[str, str], list[Finding]] = {}
        for f in findings:
            by_key.setdefault((f.kind, f.subject), []).append(f)
        for key, incident in list(open_.items()):
            if key in by_key or (checked is not None and incident.kind not in checked):
                continue  # seen again, or not judged today: no quiet day
            quiet = incident.quiet_days + 1
            if quiet >= resolve_after:
                closed = replace(incident, status=RESOLVED, resolved_on=day, quiet_days=quiet)
                done.append(closed)
                changes.append((day, Change("resolved", closed)))
                del open_[key]
            else:
                open_[key] = replace(incident, quiet_days=quiet)
        for key, found in sorted(by_key.items()):
            severity = max((f.severity for f in found), key=_RANK.__getitem__)
            summary = "; ".join(f.message for f in found)
            latest = [f.row() for f in found]
            current = open_.get(key)
            if current is None:
                first_evidence[key] = latest
                current = Incident(
                    incident_id=f"{day.isoformat()}/{key[0]}/{key[1]}",
                    kind=key[0],
                    subject=key[1],
                    severity=severity,
                    status=OPEN,
                    opened_on=day,
                    last_seen_on=day,
                    resolved_on=None,
                    days_seen=1,
                    remedy=_remedy(found),
                    summary=summary,
                    evidence=_evidence(latest, latest),
                    retrain_requested_on=None,
                )
                event = "opened"
            else:
                worse = _RANK[severity] > _RANK[current.severity]
                current = replace(
                    current,
                    severity=severity if worse else current.severity,
                    last_seen_on=day,
                    days_seen=current.days_seen + 1,
                    remedy=_remedy(found, current.remedy),
                    summary=summary,
                    evidence=_evidence(first_evidence[key], latest),
                    quiet_days=0,
                )
                event = "escalated" if worse else ""
            # Once per incident, while retraining is its remedy, and not within the cool-down
            # of the last request (an incident opened during it asks once the cool-down ends).
            if (
                current.retrain_requested_on is None
                and current.remedy == RETRAIN
                and may_retrain(day)
            ):
                current = replace(current, retrain_requested_on=day)
                last_retrain = day
                event = event or "retraining requested"
            open_[key] = current
            if event:
                changes.append((day, Change(event, current)))
    incidents = sorted([*done, *open_.values()], key=lambda i: (i.opened_on, i.incident_id))
    return incidents, changes


def _evidence(first: list[dict[str, Any]], latest: list[dict[str, Any]]) -> str:
    return json.dumps({"first_day": first, "latest_day": latest}, sort_keys=True)


def open_on(incidents: list[Incident], day: date) -> list[Incident]:
    """The incidents open at the end of ``day`` (opened on or before it, not yet resolved)."""
    return [
        i
        for i in incidents
        if i.opened_on <= day and (i.resolved_on is None or i.resolved_on > day)
    ]
