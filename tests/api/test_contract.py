"""The contract without a model: the committed OpenAPI document, problem documents, validation
naming the field, refusals, and a service that stays healthy through all of them."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.access import AccessConfigError
from api.app import OPENAPI_FILE, create_app, openapi_document
from pipelines.settings import Settings

KEY = "read-key-for-the-tests"
GOOD_SCORE = {
    "flight_date": "2013-01-04",
    "carrier": "UA",
    "flight_number": 1545,
    "origin": "EWR",
    "dest": "IAH",
    "sched_dep_time": "05:15",
    "sched_arr_time": "08:19",
}


def test_the_committed_openapi_document_is_current() -> None:
    committed = OPENAPI_FILE.read_text(encoding="utf-8")
    assert committed == openapi_document(), "run .venv/bin/python -m api.openapi and commit it"


def test_every_error_response_is_documented_as_a_problem_document() -> None:
    document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        status,
                    )


def test_the_production_profile_refuses_anonymous_requests_and_hides_the_dsn() -> None:
    production = Settings(publish_dsn="postgresql://app:s3cret@127.0.0.1:1/app", api_keys=None)
    with pytest.raises(AccessConfigError, match="NIGHTSHIFT_API_KEYS") as refused:
        create_app(production)
    assert "s3cret" not in str(refused.value)


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An empty lake and an MLflow store without any model: settings for the embedded default."""
    root = tmp_path_factory.mktemp("empty")
    (root / "lake").mkdir()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return {"lake_root": root / "lake", "mlflow_tracking_uri": uri, "publish_dsn": None}


@pytest.fixture(scope="module")
def no_champion(empty: dict) -> TestClient:
    app = create_app(Settings(**empty))
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.champion.refresh()
        yield client


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:nightshift:problem:")
    return body


def test_without_a_champion_scoring_says_how_to_train_one(no_champion: TestClient) -> None:
    body = _problem(no_champion.post("/v1/score", json=GOOD_SCORE), 503)
    assert "flight_delay_training" in body["detail"]
    ready = _problem(no_champion.get("/readyz"), 503)
    assert "flight_delay_training" in ready["detail"]
    assert no_champion.get("/healthz").json() == {"status": "ok"}


def test_an_unknown_flight_says_what_was_searched(no_champion: TestClient) -> None:
    body = _problem(no_champion.get("/v1/flights/2013-01-04/UA/1545?origin=EWR"), 404)
    assert "UA 1545 from EWR on 2013-01-04" in body["detail"] and "lake" in body["detail"]


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("GET", "/v1/flights/2013-02-30/UA/1545?origin=EWR", None, "flight_date"),
        ("GET", "/v1/flights/2013-01-04/ua/1545?origin=EWR", None, "carrier"),
        ("GET", "/v1/flights/2013-01-04/UA/0?origin=EWR", None, "flight_number"),
        ("GET", "/v1/flights/2013-01-04/UA/1545", None, "origin"),
        ("GET", "/v1/flights/2013-01-04/UA/1545?origin=EWRX", None, "origin"),
        ("GET", "/v1/flights?date=2013-01-04&limit=0", None, "limit"),
        ("GET", "/v1/flights?date=2013-01-04&min_probability=1.5", None, "min_probability"),
        ("GET", "/v1/flights?date=2013-01-04&cursor=bm90LWEtY3Vyc29y", None, "cursor"),
        ("GET", "/v1/flights", None, "date"),
        ("POST", "/v1/score", {**GOOD_SCORE, "sched_dep_time": "24:00"}, "sched_dep_time"),
        ("POST", "/v1/score", {**GOOD_SCORE, "dest": "Houston"}, "dest"),
        ("POST", "/v1/score", {**GOOD_SCORE, "distance_miles": -3}, "distance_miles"),
        ("POST", "/v1/score", {**GOOD_SCORE, "unexpected": 1}, "unexpected"),
        ("POST", "/v1/score", {k: v for k, v in GOOD_SCORE.items() if k != "carrier"}, "carrier"),
    ],
)
def test_malformed_requests_get_422_naming_the_field(
    no_champion: TestClient, method: str, url: str, body: dict | None, field: str
) -> None:
    problem = _problem(no_champion.request(method, url, json=body), 422)
    assert field in [e["field"] for e in problem["errors"]]
    assert field in problem["detail"]


def test_bad_requests_leave_the_service_healthy(no_champion: TestClient) -> None:
    for _ in range(3):
        no_champion.post("/v1/score", content=b"{not json", headers={"content-type": "x"})
        no_champion.get("/v1/flights/9999-99-99/??/x")
        no_champion.delete("/v1/score")
    _problem(no_champion.get("/no/such/route"), 404)
    _problem(no_champion.delete("/v1/score"), 405)
    assert no_champion.get("/healthz").status_code == 200
    metrics = no_champion.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'nightshift_api_requests_total{method="DELETE",route="/v1/score",status="405"}' in (
        metrics.text
    )


def test_with_keys_anonymous_and_out_of_scope_callers_are_refused(empty: dict) -> None:
    with TestClient(create_app(Settings(**empty, api_keys=f"read:{KEY}"))) as client:
        anonymous = _problem(client.get("/v1/flights?date=2013-01-04"), 401)
        assert "X-API-Key" in anonymous["detail"]
        _problem(client.get("/v1/flights?date=2013-01-04", headers={"X-API-Key": "x" * 20}), 401)
        _problem(client.post("/v1/score", json=GOOD_SCORE, headers={"X-API-Key": KEY}), 403)
        listed = client.get("/v1/flights?date=2013-01-04", headers={"X-API-Key": KEY})
        assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}
        assert client.get("/healthz").status_code == 200
