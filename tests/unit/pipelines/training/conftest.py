"""Fixtures of the training tests: a lake of synthetic features, and a guard against the network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.fixtures.synthetic_features import write_features
from tests.fixtures.training import WINDOW


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    write_features(root, WINDOW, flights=150)
    return root


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list:
    """Fail any outbound connection: MLflow on a local store must not need the network."""
    attempts: list = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network connection attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that fit models into a real (temporary) MLflow store take seconds each: they run in
    `make test`, and `make test-unit` (``-m "not integration"``) leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).parent == here and "mlflow_store" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
