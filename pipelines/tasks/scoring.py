"""Task adapters of the ``flight_delay_scoring`` DAG: next-day feeds -> score D+1 -> publish;
monitor D -> alert."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from pipelines import tables
from pipelines.dates import Interval
from pipelines.history import OVERRIDE_PARAM
from pipelines.ingest import extract as ingest_extract
from pipelines.ingest import validate
from pipelines.ingest.sources import source_from_settings
from pipelines.monitoring.monitor import monitor_day
from pipelines.monitoring.report import ReportLinks, write_report
from pipelines.serving import scoring
from pipelines.settings import get_settings
from pipelines.storage import lake
from pipelines.tasks.common import RunContext, announces, fails_fast, features_built

log = logging.getLogger(__name__)


def _next_days(interval: Interval) -> Interval:
    """The days the next-day feeds of ``interval`` describe: each day's following day."""
    return Interval(interval.start + timedelta(days=1), interval.end + timedelta(days=1))


@fails_fast
def extract_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    days = _next_days(run.interval)
    summary = ingest_extract.extract(
        source_from_settings(settings), settings.lake_root, days, run.run_id, tables.NEXT_DAY_TABLES
    )
    return {"interval": str(days), **asdict(summary)}


@announces
@fails_fast
def validate_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    days = _next_days(run.interval)
    summary = validate.validate_and_publish(
        settings.lake_root,
        days,
        run.run_id,
        settings.row_count_bounds(),
        source_tables=tables.NEXT_DAY_TABLES,
        results=tables.NEXT_DAY_VALIDATION_RESULTS,
        resources=settings.duckdb_resources(),
    )
    return summary.overview(days)


def day_features_ready(context: Mapping[str, Any]) -> bool:
    """Sensor: has flights_daily built the features (the outcomes) of the interval's last day?"""
    return features_built(RunContext.from_airflow(context).interval.end - timedelta(days=1))


@announces
@fails_fast
def score_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    params = context.get("params") or {}
    policy = params.get("model_version_policy") or scoring.CURRENT_CHAMPION
    scored = [
        asdict(
            scoring.score_day(
                settings.lake_root,
                settings.sql_root,
                settings.mlflow_tracking_uri,
                day,
                run.run_id,
                policy,
                history_start=settings.first_history_day,
                allow_incomplete_history=bool(params.get(OVERRIDE_PARAM)),
                resources=settings.duckdb_resources(),
            )
        )
        for day in _next_days(run.interval).days()
    ]
    return {"policy": policy, "days": scored}


@fails_fast
def publish_predictions(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    if settings.publish_dsn is None:
        log.info("NIGHTSHIFT_PUBLISH_DSN is not set: predictions stay in the lake")
        return {"published": False, "reason": "NIGHTSHIFT_PUBLISH_DSN not set"}
    from pipelines.serving.publish import publish_predictions as publish  # psycopg: only here

    dsn = settings.publish_dsn.get_secret_value()
    done = []
    for day in _next_days(run.interval).days():
        # The partition file, read a batch at a time: a large day never sits in memory.
        with lake.open_partition(settings.lake_root, *tables.PREDICTIONS.address, day) as scored:
            done.append(asdict(publish(dsn, settings.publish_schema, day, scored)))
    return {"published": True, "days": done}


@announces
@fails_fast
def monitor(context: Mapping[str, Any]) -> dict[str, Any]:
    """Realized performance, drift and incidents of each day of the interval, then its report
    pages. Returns what the alerting tasks act on: the verdict and open incidents of the last
    day, the incident changes and retraining requests of every day."""
    run = RunContext.from_airflow(context)
    settings = get_settings()
    thresholds = settings.thresholds()
    days = [
        monitor_day(settings.lake_root, settings.mlflow_tracking_uri, day, run.run_id, thresholds)
        for day in run.interval.days()
    ]
    links = ReportLinks(
        settings.airflow_ui_url,
        settings.mlflow_ui_url,
        context["dag"].dag_id if context.get("dag") else "flight_delay_scoring",
        run.run_id,
    )
    pages = [
        write_report(
            settings.lake_root,
            settings.sql_root,
            settings.reports_root,
            date.fromisoformat(d.day),
            d,
            thresholds,
            links,
            resources=settings.duckdb_resources(),
        )
        for d in days
    ]
    last = days[-1]
    log.info("monitoring report: %s (index: %s)", pages[-1], pages[-1].with_name("index.html"))
    log.info("verdict %s: %s", last.verdict.upper(), "; ".join(last.reasons) or "nothing open")
    return {
        "interval": str(run.interval),
        "verdict": last.verdict,
        "reasons": last.reasons,
        "open_incidents": last.open_incidents,
        "changes": [c for d in days for c in d.changes],
        "retrain": [r for d in days for r in d.retrain],
        "findings": [a for d in days for a in d.alerts],
        "report": str(pages[-1]),
        "links": {"airflow": links.airflow_run, "report": str(pages[-1])},
    }


@fails_fast
def notify_incidents(context: Mapping[str, Any], monitored: Mapping[str, Any]) -> int:
    """Send one notification per incident change of the run (opened, escalated, resolved) to
    the configured webhook and email; the number sent (0: nothing changed or nothing set)."""
    from pipelines.tasks.notifiers import incident_notifiers

    settings = get_settings()
    url = None if settings.alert_webhook_url is None else settings.alert_webhook_url
    webhook = None if url is None else url.get_secret_value()
    if not webhook and not settings.alert_email_to:
        if monitored.get("changes"):
            log.info("no NIGHTSHIFT_ALERT_WEBHOOK_URL or NIGHTSHIFT_ALERT_EMAIL_TO: not sent")
        return 0
    sent = 0
    for change in monitored.get("changes", []):
        incident = {k: v for k, v in change.items() if k not in ("event", "evidence")}
        payload = {
            "source": "nightshift",
            "event": change["event"],
            "incident": incident,
            "verdict": monitored.get("verdict"),
            "links": monitored.get("links", {}),
        }
        for notifier in incident_notifiers(webhook or None, settings.alert_email_to, payload):
            # notify, not notifier(context): calling it would log a failure and swallow it.
            notifier.notify(context)  # type: ignore[arg-type]
            sent += 1
        log.info("notified: %s %s", change["event"], change["incident_id"])
    return sent


def open_incidents_message(monitored: Mapping[str, Any]) -> str | None:
    """The one line that marks the run when incidents are open at its end (None: all clear)."""
    incidents = monitored.get("open_incidents") or []
    if not incidents:
        return None
    listed = "; ".join(
        f"{i['severity']} {i['kind']} of {i['subject']} since {i['opened_on']}" for i in incidents
    )
    return (
        f"{monitored['verdict'].upper()}: {len(incidents)} open incident(s): {listed}. "
        f"Report: {monitored.get('report')}; table monitoring.alerts"
    )


@fails_fast
def retraining_request(
    context: Mapping[str, Any], monitored: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The extra of the model-alert asset event, or None when no incident of the run requested
    retraining (one request per incident, with a cool-down; a broken feed never requests one).

    ``as_of`` is the day after the monitored interval: a training run triggered by the alert
    trains on data up to and including the day that raised it.
    """
    run = RunContext.from_airflow(context)
    requested = list(monitored.get("retrain", []))
    if not requested:
        return None
    for change in requested:
        log.warning(
            "retraining requested by incident %s: %s", change["incident_id"], change["summary"]
        )
    return {
        "as_of": str(run.interval.end),
        "incidents": [
            {k: c[k] for k in ("incident_id", "kind", "subject", "severity", "summary")}
            for c in requested
        ],
        "alerts": [c["summary"] for c in requested],
    }
