"""Start ``dag.test()``'s in-process Execution API for one API version: the task SDK's own.

``dag.test()`` runs each task against an Execution API served in this process (Airflow's
``InProcessExecutionAPI``, built on the first task's first call). That app is a Cadwyn app, and
Cadwyn builds a router for every API version Airflow still supports (nine in Airflow 3.3): 3-5 s
of every fresh ``nightshift run-dag`` process, before the first task does anything. The only
client of this app is the task SDK installed beside it, which always speaks the newest version.

:func:`serve_head_version_only` makes the in-process app (and only it: the api-server of a
deployment is another process, and an api-server app built in this one is untouched) serve that one
version: the same router, less the routes that exist only in older versions, under a bundle of the
newest version alone. Requests carry that version, so they reach the same endpoints with the same
schemas as before (the test compares the routes). When the installed SDK does not speak the newest
version the core knows, nothing is trimmed and Airflow builds its full app."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_INSTALLED = "_nightshift_head_version_only"


def head_version_router() -> tuple[Any, Any] | None:
    """(bundle, router) for the newest Execution API version alone; None when the task SDK
    does not speak that version (then the full app is the only right one)."""
    import airflow.api_fastapi.execution_api.routes as routes
    import airflow.api_fastapi.execution_api.versions as versions
    from airflow.sdk.api.datamodels._generated import API_VERSION
    from cadwyn import HeadVersion, Version, VersionBundle
    from cadwyn.route_generation import _DELETED_ROUTE_TAG, copy_router
    from fastapi.routing import APIRoute

    newest = versions.bundle.versions[0].value
    if newest != API_VERSION:
        log.warning("task SDK speaks Execution API %s, core's newest is %s", API_VERSION, newest)
        return None
    router = copy_router(routes.execution_api_router)
    router.routes = [
        route
        for route in router.routes
        if not (isinstance(route, APIRoute) and _DELETED_ROUTE_TAG in route.tags)
    ]
    return VersionBundle(HeadVersion(), Version(newest)), router


def serve_head_version_only() -> None:
    """Make every ``InProcessExecutionAPI`` of this process serve the newest version only.

    Idempotent. ``InProcessExecutionAPI.app`` calls ``create_task_execution_api_app`` with a
    lifespan of its own; an api-server app calls it with the module's. The wrapper trims the
    first kind only: for that call it puts the trimmed bundle and router where Airflow's factory
    reads them (their modules), under a lock, and restores them after it.
    """
    import airflow.api_fastapi.execution_api.app as app_module

    if getattr(app_module.create_task_execution_api_app, _INSTALLED, False):
        return
    app_module.create_task_execution_api_app = _trimmed(
        app_module.create_task_execution_api_app, app_module.lifespan
    )


_SWAP = threading.Lock()


def _trimmed(create: Callable[..., Any], server_lifespan: Any) -> Callable[..., Any]:
    import airflow.api_fastapi.execution_api.routes as routes
    import airflow.api_fastapi.execution_api.versions as versions

    @functools.wraps(create)
    def create_in_process_app(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("lifespan", args[0] if args else server_lifespan) is server_lifespan:
            return create(*args, **kwargs)  # an api-server's app: every version
        with _SWAP:
            trimmed = head_version_router()
            if trimmed is None:
                return create(*args, **kwargs)
            bundle, router = versions.bundle, routes.execution_api_router
            versions.bundle, routes.execution_api_router = trimmed
            try:
                return create(*args, **kwargs)
            finally:
                versions.bundle, routes.execution_api_router = bundle, router

    setattr(create_in_process_app, _INSTALLED, True)
    return create_in_process_app
