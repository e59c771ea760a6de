"""Prometheus metrics of the service: requests, latency by route, the champion answering.

A plain ASGI middleware (no per-request task or copy of the body) and one registry per app, so
two apps in one process (the tests) never share counters.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Lookups are expected in milliseconds, on-demand scoring in tens of them.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "nightshift_api_requests",
            "Requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nightshift_api_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.champion_version = Gauge(
            "nightshift_api_champion_version",
            "The registered version of flight_delay that answers (0: none loaded).",
            registry=self.registry,
        )
        self.champion_swaps = Counter(
            "nightshift_api_champion_swaps",
            "Times a new @champion was loaded and swapped in.",
            registry=self.registry,
        )

    def champion_loaded(self, version: str) -> None:
        self.champion_version.set(float(version))
        self.champion_swaps.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by the template of the route that answered it."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method, template, str(status["code"])).inc()
