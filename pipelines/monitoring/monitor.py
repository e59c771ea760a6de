"""Monitoring: how good were the predictions for a day, do its inputs still look like training,
and which incidents are open?

Once day D's actuals are published (the run for D), one commit writes D's partitions of:

* ``monitoring.model_performance_daily``, ``calibration_by_band_daily`` and
  ``performance_by_slice_daily``: the predictions made for D the evening before, joined with D's
  outcomes (:mod:`pipelines.monitoring.performance`);
* ``monitoring.feature_drift_daily``: each feature measured the way its kind calls for
  (:mod:`pipelines.monitoring.watchlist`) against the champion's training profile;
* ``monitoring.findings_daily``: every crossed threshold of D
  (:mod:`pipelines.monitoring.findings`);
* ``monitoring.checks_daily``: which kinds of check could run on D (no predictions: no
  performance check), so a day that judged nothing is not a quiet day for an incident;
* ``monitoring.alerts``: the incidents, folded again from the findings of every monitored day
  (:mod:`pipelines.monitoring.incidents`, stored by :mod:`pipelines.monitoring.store`), so a
  breach that lasts is one row that is updated.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from models.flight_delay import schema as fd
from pipelines import tables
from pipelines.drift import PROFILE_ARTIFACT
from pipelines.errors import MissingUpstreamPartition
from pipelines.monitoring import incidents as inc
from pipelines.monitoring import store
from pipelines.monitoring.finding import (
    CRITICAL,
    DRIFT,
    KINDS,
    MISSING_FEATURE,
    PERFORMANCE,
    VOLUME,
    Finding,
)
from pipelines.monitoring.findings import feature_checks, performance_findings, volume_findings
from pipelines.monitoring.performance import performance_by_slice, realized_performance
from pipelines.monitoring.schemas import SCHEMAS
from pipelines.settings import Thresholds
from pipelines.storage import lake, registry

log = logging.getLogger(__name__)

OK, DEGRADED, BROKEN = "ok", "degraded", "broken"
_COMMIT_ATTEMPTS = 3


def read_table(lake_root: Path, table: tables.LakeTable, day: date) -> pd.DataFrame | None:
    if not lake.has_partition(lake_root, *table.address, day):
        return None
    return lake.read_partition(lake_root, *table.address, day).to_pandas()


def write_rows(
    lake_root: Path, where: tables.LakeTable, day: date, rows: list[dict], run_id: str
) -> int:
    """Replace the day's partition of a monitoring table with ``rows`` (typed, even when empty)."""
    with lake.transaction(lake_root, run_id) as tx:
        return stage_rows(tx, where, day, rows)


def stage_rows(tx: lake.Transaction, where: tables.LakeTable, day: date, rows: list[dict]) -> int:
    """Add the day's rows of a monitoring table to ``tx`` (typed, even when empty)."""
    table = pa.Table.from_pylist(rows, schema=SCHEMAS[where])
    return tx.write(*where.address, day, table).rows


@dataclass(frozen=True)
class MonitorSummary:
    day: str
    performance: dict[str, Any] | None
    drift_top: list[dict[str, Any]]
    alerts: list[str]  # the day's findings, one line each
    model_version: str | None
    verdict: str = OK
    reasons: list[str] = field(default_factory=list)
    open_incidents: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # opened/escalated/resolved today
    retrain: list[dict[str, Any]] = field(default_factory=list)  # incidents asking today


def verdict_of(open_incidents: list[inc.Incident]) -> tuple[str, list[str]]:
    """OK with nothing open; broken with a critical incident open; degraded otherwise."""
    if not open_incidents:
        return OK, []
    reasons = [f"{describe(i)}: {_undated(i.summary)}" for i in open_incidents]
    worst = BROKEN if any(i.severity == CRITICAL for i in open_incidents) else DEGRADED
    return worst, reasons


def describe(incident: inc.Incident) -> str:
    """``weather feed: drift (critical), open since 2013-03-08``: what an incident is about."""
    feed = incident.kind in (DRIFT, MISSING_FEATURE)
    subject = f"{incident.subject} feed" if feed else incident.subject
    kind = incident.kind.replace("_", " ")
    return f"{subject}: {kind} ({incident.severity}), open since {incident.opened_on}"


def _undated(summary: str) -> str:
    """The findings without their leading ``YYYY-MM-DD: `` (the incident gives the days)."""
    return "; ".join(part.split(": ", 1)[-1] for part in summary.split("; "))


def _reference_profile(tracking_uri: str, version: str) -> dict[str, Any] | None:
    """The drift profile logged with ``version``'s training run; None (and a warning) only when
    the run has none. Any other MLflow error propagates: "no profile" must not hide an outage."""
    import mlflow.artifacts

    client = registry.client(tracking_uri)
    run_id = client.get_model_version(fd.MODEL_NAME, version).run_id
    folder, _ = PROFILE_ARTIFACT.rsplit("/", 1)
    if PROFILE_ARTIFACT not in {a.path for a in client.list_artifacts(run_id, folder)}:
        log.warning("model v%s has no %s: drift not computed", version, PROFILE_ARTIFACT)
        return None
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{PROFILE_ARTIFACT}")


def _findings_rows(found: list[Finding], version: str | None) -> list[dict[str, Any]]:
    return [{**f.row(), "model_version": version} for f in found]


def monitor_day(
    lake_root: Path, tracking_uri: str, day: date, run_id: str, thresholds: Thresholds
) -> MonitorSummary:
    """Realized performance of the predictions for ``day``, drift of its features, and the
    incidents as they stand after it.

    Needs ``features.flight_features`` of ``day`` (its outcomes). A day that was never scored gets
    empty performance partitions (monitored, nothing to measure) and a log line saying so.
    """
    outcomes = read_table(lake_root, tables.FLIGHT_FEATURES, day)
    if outcomes is None:
        raise MissingUpstreamPartition(
            f"features.flight_features has no partition for {day}: monitoring needs the day's "
            "outcomes (flights_daily builds them)"
        )
    yesterday = read_table(lake_root, tables.FLIGHT_FEATURES, day - timedelta(days=1))
    predictions = read_table(lake_root, tables.PREDICTIONS, day)
    performance, bands, slices, version = None, [], [], None
    if predictions is None or predictions.empty:
        log.warning("no predictions were made for %s: nothing to measure", day)
        predictions = None
    else:
        measured = realized_performance(predictions, outcomes)
        performance = measured.row
        version = max(performance["model_version"].split(","), key=int)
        tag = performance["model_version"]
        bands = [{"model_version": tag, **b} for b in measured.bands]
        slices = [{"model_version": tag, **s} for s in performance_by_slice(predictions, outcomes)]
    if version is None:
        champion = registry.get_champion(registry.client(tracking_uri), fd.MODEL_NAME)
        version = None if champion is None else str(champion.version)
    profile = None if version is None else _reference_profile(tracking_uri, version)
    drift: list[dict[str, Any]] = []
    found = performance_findings(day, performance, thresholds)
    checked = {VOLUME}
    if performance and performance["flights_labelled"] >= thresholds.min_labelled_flights:
        checked.add(PERFORMANCE)
    if profile is not None and len(outcomes):
        drift, feature_found = feature_checks(day, profile, outcomes, yesterday, thresholds)
        drift = [
            {"model_version": version, "drifted": r["finding"] is not None, **r} for r in drift
        ]
        found += feature_found
        checked |= {DRIFT, MISSING_FEATURE}
    scored = None if predictions is None else len(predictions)
    started = any(d < day for d in lake.list_partitions(lake_root, *tables.PREDICTIONS.address))
    found += volume_findings(day, scored, len(outcomes), started, thresholds)
    checks = [{"kind": k, "checked": k in checked} for k in KINDS]
    for attempt in range(1, _COMMIT_ATTEMPTS + 1):
        try:
            # The day's monitoring partitions and the incidents become visible together.
            with lake.transaction(lake_root, run_id) as tx:
                stage_rows(
                    tx, tables.MODEL_PERFORMANCE_DAILY, day, [performance] if performance else []
                )
                stage_rows(tx, tables.CALIBRATION_BY_BAND_DAILY, day, bands)
                stage_rows(tx, tables.PERFORMANCE_BY_SLICE_DAILY, day, slices)
                stage_rows(tx, tables.FEATURE_DRIFT_DAILY, day, drift)
                stage_rows(tx, tables.FINDINGS_DAILY, day, _findings_rows(found, version))
                stage_rows(tx, tables.CHECKS_DAILY, day, checks)
                every_day = store.monitored_days(tx, day, found, frozenset(checked))
                incidents = store.stage_incidents(tx, every_day, thresholds)
            break
        except lake.CommitConflict:  # another run monitored a day meanwhile: fold again
            if attempt == _COMMIT_ATTEMPTS:
                raise
    upto = [d for d in every_day if d[0] <= day]
    policy = (thresholds.resolve_after_days, thresholds.retrain_cooldown_days)
    now_open = inc.open_on(inc.fold(upto, *policy), day)
    verdict, reasons = verdict_of(now_open)
    # Announced only when the day is the newest monitored: a rerun or a backfill of an earlier
    # day updates the tables, but does not page anyone again or ask for another retraining.
    newest = every_day[-1][0] == day
    changes = inc.changes_on(upto, day, *policy) if newest else []
    if not newest:
        log.info("%s is not the newest monitored day: incident changes are not announced", day)
    for finding in found:
        log.warning("MONITORING FINDING %s", finding.message)
    log.info("monitoring %s: %s; %d incidents in total", day, verdict.upper(), len(incidents))
    return MonitorSummary(
        day.isoformat(),
        performance,
        drift[:5],
        [f.message for f in found],
        version,
        verdict,
        reasons,
        [_incident_dict(i) for i in now_open],
        [{"event": c.event, **_incident_dict(c.incident)} for c in changes],
        [
            _incident_dict(c.incident)
            for c in changes
            if c.incident.retrain_requested_on == day and c.event != "resolved"
        ],
    )


def _incident_dict(incident: inc.Incident) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, date) else v for k, v in asdict(incident).items()}
