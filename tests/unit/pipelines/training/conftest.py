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
