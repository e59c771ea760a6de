"""Incident notifications through Airflow's notifier interface (``BaseNotifier``).

One message per change of an incident (opened, escalated to critical, resolved), never one per
night it stays open. The webhook takes a JSON POST (a Slack or Teams incoming webhook, PagerDuty
Events, a chat bot); email goes through Airflow's SMTP provider and its ``smtp_default``
connection. Both are configured in settings; unset, nothing is sent and the log says so.
"""

from __future__ import annotations

import html
import json
import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import BaseNotifier

from pipelines.errors import PermanentError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
# Answers that a later attempt may not get: too many requests, a timeout at the far end.
_TRANSIENT = {408, 425, 429}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without its body and report success."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class WebhookRejected(PermanentError):
    """The webhook answered 4xx: the URL or the payload is wrong, and a retry would be too."""


class IncidentWebhookNotifier(BaseNotifier):
    """POST ``payload`` as JSON to ``url``. A connection fault, a 5xx, 408 or 429 raises
    ``OSError`` (the task retries); any other 4xx, a redirect or a URL that is not http(s)
    raises :class:`WebhookRejected` (it does not: the setting needs fixing)."""

    # Nothing is templated: incident text is data, never a Jinja template.
    template_fields = ()

    def __init__(self, url: str, payload: dict[str, Any]) -> None:
        super().__init__()
        self.url, self.payload = url, payload

    def notify(self, context: Any) -> None:
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise WebhookRejected("NIGHTSHIFT_ALERT_WEBHOOK_URL must be an http(s) URL")
        body = json.dumps(self.payload, default=str).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                raise WebhookRejected(
                    f"the alert webhook redirected (HTTP {exc.code}) to "
                    f"{exc.headers.get('Location')}: set NIGHTSHIFT_ALERT_WEBHOOK_URL to that URL"
                ) from exc
            if 400 <= exc.code < 500 and exc.code not in _TRANSIENT:
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
                html_content="<pre>"
                + html.escape(json.dumps(payload, indent=2, default=str))
                + "</pre>",
            )
        )
    return notifiers
