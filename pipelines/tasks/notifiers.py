"""Incident notifications through Airflow's notifier interface (``BaseNotifier``).

One message per change of an incident (opened, escalated to critical, resolved), never one per
night it stays open. The webhook takes a JSON POST (a Slack or Teams incoming webhook, PagerDuty
Events, a chat bot); email goes through Airflow's SMTP provider and its ``smtp_default``
connection. Both are configured in settings; unset, nothing is sent and the log says so.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from airflow.sdk import BaseNotifier

from pipelines.errors import PermanentError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


class WebhookRejected(PermanentError):
    """The webhook answered 4xx: the URL or the payload is wrong, and a retry would be too."""


class IncidentWebhookNotifier(BaseNotifier):
    """POST ``payload`` as JSON to ``url``. A connection fault or a 5xx raises ``OSError`` (the
    task retries); a 4xx raises :class:`WebhookRejected` (it does not)."""

    # Nothing is templated: incident text is data, never a Jinja template.
    template_fields = ()

    def __init__(self, url: str, payload: dict[str, Any]) -> None:
        super().__init__()
        self.url, self.payload = url, payload

    def notify(self, context: Any) -> None:
        body = json.dumps(self.payload, default=str).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500:
                raise WebhookRejected(
                    f"the alert webhook refused the notification: HTTP {exc.code} {exc.reason}; "
                    "check NIGHTSHIFT_ALERT_WEBHOOK_URL"
                ) from exc
            raise OSError(f"the alert webhook failed: HTTP {exc.code} {exc.reason}") from exc


def incident_notifiers(
    webhook_url: str | None, email_to: str | None, payload: dict[str, Any]
) -> list[BaseNotifier]:
    """The notifiers settings configure for one incident change (empty: none configured)."""
    notifiers: list[BaseNotifier] = []
    if webhook_url:
        notifiers.append(IncidentWebhookNotifier(webhook_url, payload))
    if email_to:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        incident = payload["incident"]
        notifiers.append(
            SmtpNotifier(
                to=[a.strip() for a in email_to.split(",") if a.strip()],
                subject=f"[nightshift] {payload['event']}: {incident['kind']} of "
                f"{incident['subject']} ({incident['severity']})",
                html_content="<pre>" + json.dumps(payload, indent=2, default=str) + "</pre>",
            )
        )
    return notifiers
