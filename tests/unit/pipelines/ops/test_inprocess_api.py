"""dag.test()'s in-process Execution API, served for the task SDK's version only: the same routes,
with the same schemas, as Airflow's full app serves for that version; nothing else trimmed."""

from __future__ import annotations

import inspect
import json

import airflow.api_fastapi.execution_api.app as app_module
import airflow.api_fastapi.execution_api.routes as routes
import airflow.api_fastapi.execution_api.versions as versions
import pytest
from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
from airflow.sdk.api.datamodels import _generated
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from pipelines.ops import inprocess_api


def _schema(annotation) -> str | None:
    """A request's or response's JSON schema, as a client of the version sees it."""
    if annotation is None:
        return None
    return json.dumps(TypeAdapter(annotation).json_schema(), sort_keys=True)


def _routes_of(app, version: str) -> list[tuple]:
    app._cadwyn_initialize()  # what the app's first request does
    router = app.router.versioned_routers[version]
    return sorted(
        (
            route.path,
            tuple(sorted(route.methods)),
            route.name,
            _schema(route.response_model),
            tuple(sorted(f.name for f in route.dependant.query_params)),
            tuple(_schema(f.field_info.annotation) for f in route.dependant.body_params),
        )
        for route in router.routes
        if isinstance(route, APIRoute)
    )


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch):
    """Airflow's own app factory for the test (a dag.test() earlier in the session may have
    installed the trim); whatever the test installs is undone after it."""
    create = app_module.create_task_execution_api_app
    monkeypatch.setattr(app_module, "create_task_execution_api_app", inspect.unwrap(create))


def test_the_in_process_app_serves_the_sdk_version_as_the_full_app_does(restored) -> None:
    version = _generated.API_VERSION
    bundle, router = versions.bundle, routes.execution_api_router
    full = InProcessExecutionAPI().app
    assert len(full.versions.versions) > 1  # Airflow's own: every supported version
    inprocess_api.serve_head_version_only()
    trimmed = InProcessExecutionAPI().app

    assert [v.value for v in trimmed.versions.versions] == [version]
    served = _routes_of(trimmed, version)
    assert served == _routes_of(full, version)
    assert ("/task-instances/{task_instance_id}/run", ("PATCH",)) in {r[:2] for r in served}
    # Airflow's modules are as they were, and an app built outside InProcessExecutionAPI (an
    # api-server's) serves every version.
    assert versions.bundle is bundle
    assert routes.execution_api_router is router
    assert app_module.create_task_execution_api_app().versions is bundle


def test_installing_twice_wraps_once(restored) -> None:
    inprocess_api.serve_head_version_only()
    first = app_module.create_task_execution_api_app
    inprocess_api.serve_head_version_only()
    assert app_module.create_task_execution_api_app is first


def test_a_failed_build_restores_airflow_s_modules(restored, monkeypatch) -> None:
    bundle, router = versions.bundle, routes.execution_api_router

    def broken(*args, **kwargs):
        assert versions.bundle is not bundle  # the trimmed bundle, during the build
        raise RuntimeError("the app could not be built")

    monkeypatch.setattr(app_module, "create_task_execution_api_app", broken)
    inprocess_api.serve_head_version_only()  # wraps the broken factory
    with pytest.raises(RuntimeError, match="could not be built"):
        _ = InProcessExecutionAPI().app
    assert versions.bundle is bundle
    assert routes.execution_api_router is router


def test_an_sdk_speaking_another_version_gets_the_full_app(
    restored, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_generated, "API_VERSION", "2025-04-11")
    assert inprocess_api.head_version_router() is None
    inprocess_api.serve_head_version_only()
    app = InProcessExecutionAPI().app
    assert [v.value for v in app.versions.versions] == [v.value for v in versions.bundle.versions]
