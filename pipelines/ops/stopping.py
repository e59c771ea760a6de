"""SIGTERM and SIGINT stop ``nightshift run-dag``: one line and exit 128 + signal, no traceback.

Three things in the embedded runner swallow a plain signal, hence this module:

- Airflow's ``dag.test()`` loop catches ``Exception`` around every task and carries on, so the
  stop is a ``BaseException`` (like ``KeyboardInterrupt``), which leaves the loop.
- Airflow's task runner, running a task in this process, replaces the SIGTERM handler with its own,
  which only calls the task's ``on_kill()`` and is never restored. So the runner wraps each task's
  ``on_kill`` with :func:`request_stop`, and re-installs the handler after each task
  (:func:`reinstall`).
- The task runner also catches ``BaseException`` raised inside a task (the task fails). So the
  runner checks :func:`raise_if_requested` after each task, which ends ``dag.test()`` there.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunStopped(BaseException):
    """A stop signal arrived; raised out of whatever the run was doing."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {self.name}")

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by a signal: 143 for SIGTERM, 130 for SIGINT."""
        return 128 + self.signum


class _State:
    active = False
    requested: int | None = None
    # Inside a deferred section (a DB migration) a signal is noted and raised at its end.
    deferred = 0


def request_stop(signum: int = signal.SIGTERM) -> None:
    """Note a stop and raise it now, unless inside :func:`deferred` (then at its end)."""
    if not _State.active:
        return
    if _State.requested is None:
        _State.requested = signum
    if not _State.deferred:
        raise RunStopped(_State.requested)


def _handle(signum: int, frame: FrameType | None) -> None:
    request_stop(signum)


def raise_if_requested() -> None:
    """Raise the stop a signal asked for, if one did (it may have been swallowed by a task)."""
    if _State.active and _State.requested is not None and not _State.deferred:
        raise RunStopped(_State.requested)


def reinstall() -> None:
    """Put the stop handler back (Airflow's task runner replaces SIGTERM's for each task)."""
    if _State.active:
        for sig in SIGNALS:
            signal.signal(sig, _handle)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A section a signal must not cut in two: the stop is raised when it ends."""
    _State.deferred += 1
    try:
        yield
    finally:
        _State.deferred -= 1
    raise_if_requested()


@dataclass
class Outcome:
    """How the guarded block ended: ``stopped`` is the stop, if a signal ended it."""

    stopped: RunStopped | None = None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Outcome]:
    """While inside, SIGTERM and SIGINT raise :class:`RunStopped`; it ends the block, and the
    outcome says so (the caller reports it once the previous handlers are back)."""
    outcome = Outcome()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    _State.active, _State.requested, _State.deferred = True, None, 0
    reinstall()
    try:
        yield outcome
    except RunStopped as stop:
        outcome.stopped = stop
    finally:
        # First: a further signal during the clean-up is ignored rather than raised in it.
        _State.active, _State.requested = False, None
        for sig, handler in previous.items():
            signal.signal(sig, handler)
