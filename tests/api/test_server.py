"""``nightshift serve``: who may call is settled before the server starts, and said."""

from __future__ import annotations

import logging

import pytest
import uvicorn

from api.server import serve
from pipelines.settings import get_settings


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The embedded default without keys; uvicorn.run records its call instead of serving."""
    monkeypatch.delenv("NIGHTSHIFT_API_KEYS", raising=False)
    monkeypatch.delenv("NIGHTSHIFT_PUBLISH_DSN", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # serve() sets it for its process: undone after
    get_settings.cache_clear()
    calls: list[tuple] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    yield calls
    get_settings.cache_clear()


def test_open_on_loopback_is_allowed_and_said_at_start_up(
    no_keys: list[tuple], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="api"):
        assert serve("127.0.0.1", 8000) == 0
    assert "OPEN on 127.0.0.1:8000" in caplog.text
    [(args, kwargs)] = no_keys
    assert args == ("api.app:create_app",) and kwargs["factory"] is True


def test_open_beyond_loopback_is_refused(
    no_keys: list[tuple], caplog: pytest.LogCaptureFixture
) -> None:
    assert serve("0.0.0.0", 8000) == 2
    assert "only on 127.0.0.1" in caplog.text and no_keys == []


def test_the_production_profile_without_keys_is_refused(
    no_keys: list[tuple], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PUBLISH_DSN", "postgresql://app:hidden-pw@127.0.0.1:5432/app")
    get_settings.cache_clear()
    assert serve("127.0.0.1", 8000) == 2
    assert "refuses anonymous" in caplog.text and "hidden-pw" not in caplog.text
    assert no_keys == []
