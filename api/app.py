"""The FastAPI application: routes, and the one place that wires settings to the services.

``create_app`` is the factory uvicorn runs (``api.server``). Every route that reads or scores
declares the errors it answers, all ``application/problem+json``; the committed contract is
``api/openapi.json`` (``python -m api.openapi`` rewrites it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from functools import partial
from pathlib import Path as FilePath
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Path, Query, Response
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

import models.flight_delay as fd
from api import access, problems
from api.champion import ChampionUnavailable, ChampionWatcher
from api.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from api.on_demand import DayState, ScoringDays
from api.problems import ApiProblem, documented, invalid_field
from api.published import (
    Filters,
    LakePredictions,
    PostgresPredictions,
    PublishedPredictions,
    StoreUnavailable,
)
from api.schemas import (
    AIRPORT,
    CARRIER,
    FLIGHT_NUMBER_MAX,
    FLIGHT_NUMBER_MIN,
    Day,
    FlightPage,
    FlightRisk,
    Health,
    Readiness,
    ScoreRequest,
    ScoreResponse,
)
from pipelines import history
from pipelines.serving import scoring
from pipelines.serving.scheduled import ScheduledFlight, UnschedulableFlight
from pipelines.settings import Settings, get_settings

TITLE = "Nightshift predictions API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Published delay risk of scheduled flights, and on-demand scoring of a flight the nightly "
    "batch did not see, by the champion and the batch's feature SQL. Send an API key with the "
    "read or score scope in the X-API-Key header (the embedded default may run open on 127.0.0.1)."
)
T = TypeVar("T")
OPENAPI_FILE = FilePath(__file__).with_name("openapi.json")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service on ``settings`` (default: the process's): the store, the keys, the champion
    watcher (started with the app) and the per-day scoring state. Refuses to build an open app
    in the production profile."""
    settings = settings or get_settings()
    keys = access.parse_keys(settings.api_keys.get_secret_value() if settings.api_keys else None)
    production = settings.publish_dsn is not None
    access.require_open_allowed(keys, production, host=None)
    store: PublishedPredictions = (
        PostgresPredictions(settings.publish_dsn.get_secret_value(), settings.publish_schema)
        if settings.publish_dsn is not None
        else LakePredictions(settings.lake_root)
    )
    metrics = Metrics()
    watcher = ChampionWatcher(
        settings.mlflow_tracking_uri,
        settings.api_champion_poll_seconds,
        on_swap=lambda loaded: metrics.champion_loaded(loaded.number),
    )
    build = partial(_as_of_day, settings)
    days = ScoringDays(settings.lake_root, build, settings.api_days_held)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watcher.start()
        yield
        watcher.stop()

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.state.access = keys
    app.state.champion = watcher
    app.state.store = store
    problems.install(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _published_routes(app, store)
    _scoring_routes(app, watcher, days)
    _operations_routes(app, store, watcher, metrics)
    app.openapi = partial(_openapi, app)  # type: ignore[method-assign]
    return app


def openapi_document() -> str:
    """The OpenAPI document the app serves, as committed in :data:`OPENAPI_FILE` (it does not
    depend on settings; ``python -m api.openapi`` rewrites the file)."""
    document = create_app(Settings(publish_dsn=None, api_keys=None)).openapi()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _as_of_day(settings: Settings, day: date) -> DayState:
    return scoring.AsOfDay(
        settings.lake_root,
        settings.sql_root,
        day,
        settings.first_history_day,
        resources=settings.duckdb_resources(),
    )


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        app.openapi_schema = problems.as_problem_media_type(document)
    return app.openapi_schema


def _available(read: Callable[[], T]) -> T:
    try:
        return read()
    except StoreUnavailable as exc:
        raise ApiProblem(503, "store-unavailable", f"{exc}; retry shortly") from None


def _risk(row: dict) -> FlightRisk:
    return FlightRisk.model_validate(row)


def _json(body: BaseModel) -> Response:
    # Validated once, here: the route's response_model documents it without checking it again
    # (a lookup is about a millisecond of CPU; the second pass was a third of it).
    return Response(body.model_dump_json(), media_type="application/json")


Carrier = Annotated[str, Path(pattern=CARRIER, description="IATA airline code, e.g. UA.")]
Number = Annotated[int, Path(ge=FLIGHT_NUMBER_MIN, le=FLIGHT_NUMBER_MAX)]
Origin = Annotated[str, Query(pattern=AIRPORT, description="IATA airport code, e.g. EWR.")]


def _published_routes(app: FastAPI, store: PublishedPredictions) -> None:
    read = [Depends(access.scope("read"))]
    errors = documented(401, 403, 404, 422, 503)

    @app.get(
        "/v1/flights/{flight_date}/{carrier}/{flight_number}",
        response_model=FlightRisk,
        responses=errors,
        dependencies=read,
        tags=["published"],
        summary="The published risk of one flight",
    )
    def published_flight(
        flight_date: Day, carrier: Carrier, flight_number: Number, origin: Origin
    ) -> Response:
        row = _available(lambda: store.flight(flight_date, carrier, flight_number, origin))
        if row is None:
            raise ApiProblem(
                404,
                "unknown-flight",
                f"no published prediction for flight {carrier} {flight_number} from {origin} on "
                f"{flight_date} (searched the {store.name} store). A day is published the "
                "evening before; POST /v1/score scores a flight the schedule does not have.",
            )
        return _json(_risk(row))

    @app.get(
        "/v1/flights",
        response_model=FlightPage,
        responses=documented(401, 403, 422, 503),
        dependencies=read,
        tags=["published"],
        summary="A day's published flights, a page at a time",
    )
    def published_flights(
        day: Annotated[Day, Query(alias="date", description="The flights' day, YYYY-MM-DD.")],
        origin: Annotated[str | None, Query(pattern=AIRPORT)] = None,
        carrier: Annotated[str | None, Query(pattern=CARRIER)] = None,
        min_probability: Annotated[float | None, Query(ge=0, le=1)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> Response:
        filters = Filters(day, origin, carrier, min_probability)
        after = _decode_cursor(cursor) if cursor else None
        rows = _available(lambda: store.page(filters, after, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        next_cursor = (
            _encode_cursor((last["carrier"], last["flight_number"], last["origin"]))
            if last
            else None
        )
        return _json(FlightPage(items=[_risk(r) for r in rows], next_cursor=next_cursor))


def _encode_cursor(key: tuple[str, int, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        carrier, number, origin = json.loads(raw)
        if not (isinstance(carrier, str) and isinstance(origin, str) and type(number) is int):
            raise ValueError(cursor)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid_field("cursor", "not a cursor this API issued") from None
    return carrier, number, origin


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 100 + int(minutes)


def _scoring_routes(app: FastAPI, watcher: ChampionWatcher, days: ScoringDays) -> None:
    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        responses=documented(400, 401, 403, 422, 503),
        dependencies=[Depends(access.scope("score"))],
        tags=["on-demand"],
        summary="Score a flight as stated, with the champion",
    )
    def score(request: ScoreRequest, response: Response) -> ScoreResponse:
        try:
            champion = watcher.require()
        except ChampionUnavailable as exc:
            raise ApiProblem(503, "no-champion", str(exc)) from None
        flight = ScheduledFlight(
            request.flight_date,
            request.carrier,
            request.flight_number,
            request.origin,
            request.dest,
            _clock(request.sched_dep_time),
            _clock(request.sched_arr_time),
            request.tailnum,
            request.distance_miles,
        )
        try:
            state = days.get(request.flight_date)
            row = state.predictions([flight], champion.model, champion.version).to_pylist()[0]
        except scoring.ScoringInputMissing as exc:
            raise invalid_field("flight_date", f"this day cannot be scored yet: {exc}") from None
        except (history.HistoryBlocked, history.HistoryNotPublished) as exc:
            raise ApiProblem(503, "history-incomplete", str(exc)) from None
        except UnschedulableFlight as exc:
            raise invalid_field(exc.field, str(exc)) from None
        except OSError:
            raise ApiProblem(503, "store-unavailable", "the lake cannot be read") from None
        response.headers["Nightshift-Model-Version"] = champion.number
        return ScoreResponse(
            **{k: row[k] for k in (*fd.KEY, "dest", "probability", "risk_band", "model_name")},
            model_version=champion.number,
            mlflow_run_id=row["mlflow_run_id"],
            features_as_of=request.flight_date - timedelta(days=1),
            replaces_published=state.is_published(flight),
            history_missing_days=state.gaps.count,
        )


def _operations_routes(
    app: FastAPI, store: PublishedPredictions, watcher: ChampionWatcher, metrics: Metrics
) -> None:
    @app.get("/healthz", response_model=Health, tags=["operations"], summary="The process runs")
    def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses=documented(503),
        tags=["operations"],
        summary="The store answers and a champion is loaded",
    )
    def readyz() -> Readiness:
        reasons = []
        try:
            store.ping()
        except StoreUnavailable as exc:
            reasons.append(str(exc))
        loaded = watcher.current
        if loaded is None:
            try:
                watcher.require()
            except ChampionUnavailable as exc:
                reasons.append(str(exc))
        if reasons or loaded is None:
            raise ApiProblem(503, "not-ready", "not ready: " + "; ".join(reasons))
        return Readiness(status="ready", store=store.name, model_version=loaded.number)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)
