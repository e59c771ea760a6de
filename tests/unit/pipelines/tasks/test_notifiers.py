"""Incident notifications through Airflow's notifier interface, against a local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseNotifier

from pipelines.tasks.notifiers import IncidentWebhookNotifier, WebhookRejected, incident_notifiers
from pipelines.tasks.scoring import notify_incidents, open_incidents_message

INCIDENT = {
    "incident_id": "2013-03-08/performance/realized performance",
    "kind": "performance",
    "subject": "realized performance",
    "severity": "warning",
    "opened_on": "2013-03-08",
    "summary": "2013-03-08: realized Brier score 0.320 above 0.2",
}


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.received, _Hook.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_the_webhook_is_an_airflow_notifier_that_posts_the_incident(hook: str) -> None:
    notifier = IncidentWebhookNotifier(hook, {"event": "opened", "incident": INCIDENT})
    assert isinstance(notifier, BaseNotifier)
    notifier.notify({})
    [got] = _Hook.received
    assert got["type"] == "application/json"
    assert got["body"] == {"event": "opened", "incident": INCIDENT}


def test_a_refused_notification_does_not_retry_and_an_unreachable_hook_does(hook: str) -> None:
    _Hook.status = 404
    with pytest.raises(WebhookRejected, match="HTTP 404"):
        IncidentWebhookNotifier(hook, {}).notify({})
    _Hook.status = 503
    with pytest.raises(OSError, match="503"):
        IncidentWebhookNotifier(hook, {}).notify({})
    with pytest.raises(OSError):
        IncidentWebhookNotifier("http://127.0.0.1:9/closed", {}).notify({})


@pytest.mark.parametrize("status", [408, 429])
def test_a_busy_webhook_is_retried(hook: str, status: int) -> None:
    _Hook.status = status
    with pytest.raises(OSError, match=str(status)):
        IncidentWebhookNotifier(hook, {}).notify({})


def test_a_redirect_is_refused_rather_than_losing_the_payload(hook: str) -> None:
    _Hook.status = 301
    with pytest.raises(WebhookRejected, match="redirected"):
        IncidentWebhookNotifier(hook, {"event": "opened"}).notify({})
    assert [r["type"] for r in _Hook.received] == ["application/json"]  # no body-less GET


def test_a_webhook_that_is_not_http_is_refused() -> None:
    with pytest.raises(WebhookRejected, match="http"):
        IncidentWebhookNotifier("file:///etc/passwd", {}).notify({})


def test_a_refused_notification_fails_the_task_without_retry(
    hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from pipelines.settings import get_settings

    _Hook.status = 400
    monkeypatch.setenv("NIGHTSHIFT_ALERT_WEBHOOK_URL", hook)
    get_settings.cache_clear()
    try:
        with pytest.raises(AirflowFailException, match="WebhookRejected"):
            notify_incidents({}, {"changes": [{"event": "opened", **INCIDENT}]})
    finally:
        get_settings.cache_clear()


def test_settings_choose_the_notifiers() -> None:
    payload = {"event": "opened", "incident": INCIDENT}
    assert incident_notifiers(None, None, payload) == []
    webhook, email = incident_notifiers("http://x/y", "oncall@example.com, b@example.com", payload)
    assert isinstance(webhook, IncidentWebhookNotifier) and isinstance(email, SmtpNotifier)


def test_one_notification_per_incident_change_of_the_run(
    hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.settings import get_settings

    monkeypatch.setenv("NIGHTSHIFT_ALERT_WEBHOOK_URL", hook)
    get_settings.cache_clear()
    monitored = {
        "verdict": "degraded",
        "changes": [{"event": "opened", **INCIDENT, "evidence": "{}"}],
        "open_incidents": [INCIDENT],
        "links": {"airflow": "http://af/run"},
        "report": "data/reports/monitoring/2013-03-08.html",
    }
    try:
        assert notify_incidents({}, monitored) == 1
        assert notify_incidents({}, {**monitored, "changes": []}) == 0  # still open: no repeat
    finally:
        get_settings.cache_clear()
    [got] = _Hook.received
    assert got["body"]["event"] == "opened" and got["body"]["incident"] == INCIDENT
    assert got["body"]["links"] == {"airflow": "http://af/run"}
    message = open_incidents_message(monitored)
    assert message.startswith("DEGRADED: 1 open incident(s): warning performance of realized")
    assert open_incidents_message({"open_incidents": []}) is None
