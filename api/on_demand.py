"""The as-of state on-demand scoring keeps: one per scored day, rebuilt when the lake commits.

Building a day's state (the lake as of its evening before, and the features of its published
schedule) takes about a second; every call for that day then reuses it. A state is keyed by the
lake snapshot it read, so a republished feed or a rerun is seen at the next call. A few days are
held, the least recently used dropped.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from pipelines.storage import snapshots


class DayState(Protocol):
    """What :class:`pipelines.serving.scoring.AsOfDay` offers the service."""

    snapshot: int | None
    gaps: Any

    def predictions(self, flights: Any, model: Any, version: Any) -> Any: ...

    def is_published(self, flight: Any) -> bool: ...


class ScoringDays:
    def __init__(
        self, lake_root: Path, build: Callable[[date], DayState], days_held: int = 3
    ) -> None:
        self._root = lake_root
        self._build = build
        self._days_held = days_held
        self._held: OrderedDict[date, DayState] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[date, threading.Lock] = {}

    def get(self, day: date) -> DayState:
        """The state of ``day`` for the lake's current snapshot (built on first use)."""
        snapshot = snapshots.current_id(self._root)
        with self._lock:
            state = self._held.get(day)
            if state is not None and state.snapshot == snapshot:
                self._held.move_to_end(day)
                return state
            building = self._building.setdefault(day, threading.Lock())
        # One build per day at a time: concurrent first calls of a day wait for it.
        with building:
            with self._lock:
                state = self._held.get(day)
                if state is not None and state.snapshot == snapshots.current_id(self._root):
                    return state
            state = self._build(day)
            # A day's state is long-lived: out of the collector's sight, so its full passes
            # (tens of ms with scikit-learn and MLflow loaded) do not stall requests.
            gc.freeze()
            with self._lock:
                self._held[day] = state
                self._held.move_to_end(day)
                while len(self._held) > self._days_held:
                    self._held.popitem(last=False)  # closed when the last call using it ends
        return state
