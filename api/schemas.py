"""The API's request and response bodies: what the OpenAPI document promises, field by field."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

# IATA codes: airports are three letters, airlines two letters or digits (9E, B6).
AIRPORT = r"^[A-Z]{3}$"
CARRIER = r"^[A-Z0-9]{2}$"
# A registration as the schedule carries it (N14228, 2 to 7 letters or digits).
TAILNUM = r"^[A-Z0-9]{2,7}$"
# A local clock time, 00:00 to 23:59.
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
FLIGHT_NUMBER_MIN, FLIGHT_NUMBER_MAX = 1, 9999
RiskBand = Literal["low", "medium", "high"]


def _iso_date(value: object) -> object:
    # Pydantic alone also reads 0 or "1700000000" as a date (Unix time): the contract says a day.
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        if not "1900" <= value[:4] <= "2999":
            raise ValueError("a day between 1900 and 2999")
        return value
    if isinstance(value, date):
        return value
    raise ValueError("a day is written YYYY-MM-DD")


Day = Annotated[date, BeforeValidator(_iso_date)]


class FlightRisk(BaseModel):
    """The published risk of one flight, as the nightly run scored it."""

    flight_date: date
    carrier: str
    flight_number: int
    origin: str
    dest: str
    scheduled_departure: datetime = Field(description="Local time at the origin.")
    probability: float = Field(ge=0, le=1, description="P(arrives more than 15 minutes late).")
    risk_band: RiskBand
    model_name: str
    model_version: str
    mlflow_run_id: str
    pipeline_run_id: str = Field(description="The nightly run that scored it.")
    scored_at: datetime | None = Field(
        description="When the nightly run wrote it (the lake partition, or the application row)."
    )


class FlightPage(BaseModel):
    """One page of a day's published flights, in order of carrier, flight number and origin."""

    items: list[FlightRisk]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class ScoreRequest(BaseModel):
    """A flight as the airline schedules it. It replaces the published flight with its key, or
    joins the day's published schedule."""

    model_config = ConfigDict(extra="forbid")

    flight_date: Day = Field(description="The day of departure (local), YYYY-MM-DD.")
    carrier: str = Field(pattern=CARRIER, examples=["UA"])
    flight_number: StrictInt = Field(ge=FLIGHT_NUMBER_MIN, le=FLIGHT_NUMBER_MAX, examples=[1545])
    origin: str = Field(pattern=AIRPORT, examples=["EWR"])
    dest: str = Field(pattern=AIRPORT, examples=["IAH"])
    sched_dep_time: str = Field(pattern=CLOCK, description="Local, HH:MM.", examples=["05:15"])
    sched_arr_time: str = Field(pattern=CLOCK, description="Local, HH:MM.", examples=["08:19"])
    tailnum: str | None = Field(default=None, pattern=TAILNUM, examples=["N14228"])
    distance_miles: float | None = Field(
        default=None,
        gt=0,
        le=12000,
        description="Omitted: the route's last published distance.",
    )


class ScoreResponse(BaseModel):
    """The champion's risk for a stated flight, from the lake as of the evening before."""

    flight_date: date
    carrier: str
    flight_number: int
    origin: str
    dest: str
    probability: float = Field(ge=0, le=1)
    risk_band: RiskBand
    model_name: str
    model_version: str = Field(description="The version that answered.")
    mlflow_run_id: str
    features_as_of: date = Field(description="The history ends the evening before this day.")
    replaces_published: bool = Field(
        description="Whether the day's published schedule had a flight with this key."
    )
    history_missing_days: int = Field(ge=0)


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 ``application/problem+json``."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    store: str = Field(description="Where published predictions are read: postgres or lake.")
    model_version: str
