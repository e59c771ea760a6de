"""The benchmark tests share one generated, validated day (``tests/fixtures/scaled_day.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# benchmarks/ is a folder of scripts, not an installed package: `python -m pytest` (the Makefile's
# way) finds it from the working directory, a bare `pytest` from here.
if str(Path(__file__).resolve().parents[3]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.fixtures.scaled_day import ScaledDay, validated


@pytest.fixture(scope="session")
def scaled_day(tmp_path_factory: pytest.TempPathFactory) -> ScaledDay:
    return validated(tmp_path_factory.mktemp("scaled"))
