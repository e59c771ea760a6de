"""The champion the service scores with, loaded in the background and swapped when ``@champion``
moves: a request takes the loaded model once and answers with it, so a swap never fails one."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import models.flight_delay as fd
from pipelines.storage import registry

log = logging.getLogger(__name__)


class ChampionUnavailable(RuntimeError):
    """No champion is loaded; the message says why and what to do."""


@dataclass(frozen=True)
class LoadedChampion:
    version: Any  # the registry's ModelVersion
    model: Any  # the fitted scikit-learn pipeline

    @property
    def number(self) -> str:
        return str(self.version.version)


class ChampionWatcher:
    """Polls the registry every ``poll_seconds``; a new ``@champion`` version is loaded in this
    background thread, then swapped in as one reference."""

    def __init__(
        self,
        tracking_uri: str,
        poll_seconds: float,
        on_swap: Callable[[LoadedChampion], None] = lambda loaded: None,
    ) -> None:
        self._uri = tracking_uri
        self._poll = poll_seconds
        self._on_swap = on_swap
        self.current: LoadedChampion | None = None
        self._why_none = "the champion is still loading"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def require(self) -> LoadedChampion:
        loaded = self.current
        if loaded is None:
            raise ChampionUnavailable(self._why_none)
        return loaded

    def refresh(self) -> None:
        """Look where ``@champion`` points; load and swap in a new version."""
        try:
            version = registry.require_champion(registry.client(self._uri), fd.MODEL_NAME)
            if self.current is not None and str(version.version) == self.current.number:
                return
            model = registry.load_sklearn(fd.MODEL_NAME, version.version)
        except registry.NoChampionError as exc:
            # An alias removed under a running service: keep answering with the last champion.
            if self.current is None:
                self._why_none = str(exc)  # it says how to train one
            return
        except Exception as exc:  # the registry is another service: any failure is its outage
            log.warning("champion not refreshed: %s: %s", type(exc).__name__, exc)
            if self.current is None:
                self._why_none = "the model registry is unreachable; retrying"
            return
        previous = self.current.number if self.current else None
        self.current = LoadedChampion(version, model)
        gc.freeze()  # the model lives long: keep the collector's full passes short
        log.info("champion %s v%s loaded (was v%s)", fd.MODEL_NAME, version.version, previous)
        self._on_swap(self.current)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self._poll)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="champion-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
