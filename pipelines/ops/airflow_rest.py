"""The Airflow REST API (v2) as the demo uses it: runs and backfills created, watched to the end.

:meth:`AirflowApi.watch` prints a line each time a task ends (its state, its own duration and the
time since the watch began) and one line per run, and returns each run as a
:class:`~pipelines.ops.airflow_runner.DayRun`, failed tasks and their reasons included, so the
CLI reports scheduler runs exactly as it reports ``dag.test()`` runs.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from pipelines.ops.airflow_runner import DayRun, duration

DONE_RUN_STATES = ("success", "failed")
ENDED_TASK_STATES = ("success", "failed", "skipped", "upstream_failed", "removed")
FAILED_TASK_STATES = ("failed", "upstream_failed")
POLL_SECONDS = 2.0


class AirflowApiError(RuntimeError):
    pass


@dataclass(frozen=True)
class RunRef:
    """A run being watched, and how to print it (``flights_daily 2013-03-08``)."""

    dag_id: str
    run_id: str
    label: str


def run_after(day: date) -> str:
    """The firing time of the scheduled run that processes ``day``: midnight after it (UTC)."""
    return f"{day + timedelta(days=1)}T00:00:00Z"


class AirflowApi:
    def __init__(
        self,
        url: str,
        log_folder: Path,
        check_alive: Callable[[], None] = lambda: None,
        started: float | None = None,
        token: str | None = None,
    ) -> None:
        self.url = url
        self.log_folder = log_folder
        self.check_alive = check_alive
        self.client = httpx.Client(base_url=f"{url}/api/v2", timeout=60)
        if token is None:
            # The embedded default makes every user an admin: the token needs no password.
            token = httpx.get(f"{url}/auth/token", timeout=30).json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"
        # The clock of the progress lines (time.monotonic() when the command began).
        self.started = time.monotonic() if started is None else started

    def call(self, method: str, path: str, **kwargs: Any) -> dict:
        for attempt in range(6):
            r = self.client.request(method, path, **kwargs)
            # SQLite: a write while the scheduler holds the DB answers 503 "database is locked".
            if r.status_code != 503:
                break
            time.sleep(1 + attempt)
        if r.status_code >= 400:
            raise AirflowApiError(f"{method} {path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json() if r.content else {}

    # --- DAGs -----------------------------------------------------------------------------------

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 120) -> None:
        """Until the dag-processor has parsed and stored every one of ``dag_ids``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            found = {d["dag_id"] for d in self.call("GET", "/dags", params={"limit": 100})["dags"]}
            if set(dag_ids) <= found:
                return
            time.sleep(POLL_SECONDS)
        raise AirflowApiError(
            f"the dag-processor did not parse {sorted(dag_ids)} in {timeout:.0f} s"
        )

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def wait_until_nothing_scheduled(self, dag_id: str, timeout: float = 60) -> None:
        """Until the scheduler's next run of ``dag_id`` is past its schedule window.

        Catch-up goes forward from the latest scheduled or backfilled run: once a backfill holds
        the window's last day, unpausing the DAG adds no run of its own.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call("GET", f"/dags/{dag_id}").get("next_dagrun_logical_date") is None:
                return
            time.sleep(1)
        raise AirflowApiError(f"{dag_id}: the scheduler still plans runs after {timeout:.0f} s")

    # --- runs -----------------------------------------------------------------------------------

    def trigger(self, dag_id: str, conf: dict[str, Any], label: str) -> RunRef:
        """A manual run with no logical date: its days come from the ``start``/``end`` params."""
        run = self.call(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}
        )
        return RunRef(dag_id, run["dag_run_id"], label)

    def backfill(self, dag_id: str, first: date, last: date, paused: bool) -> tuple[int, list]:
        """A backfill of one run per day of ``first..last``, rerunning days that already ran.
        ``paused``: created paused, so its runs wait for :meth:`resume`."""
        created = self.call(
            "POST",
            "/backfills",
            json={
                "dag_id": dag_id,
                "from_date": run_after(first),
                "to_date": run_after(last),
                "reprocess_behavior": "completed",
                "max_active_runs": 1,  # in order: each day's features read the days before it
                "run_backwards": False,
                "dag_run_conf": {},
            },
        )
        if paused:
            self.call("PUT", f"/backfills/{created['id']}/pause")
        runs = self.call(
            "GET", f"/dags/{dag_id}/dagRuns", params={"limit": 1000, "run_type": "backfill"}
        )["dag_runs"]
        wanted = {run_after(first + timedelta(days=i)) for i in range((last - first).days + 1)}
        ours = sorted(
            (r for r in runs if r.get("run_after", "").replace("+00:00", "Z") in wanted),
            key=lambda r: r["run_after"],
        )
        refs = [RunRef(dag_id, r["dag_run_id"], r["data_interval_start"][:10]) for r in ours]
        return created["id"], refs

    def resume(self, backfill_id: int) -> None:
        self.call("PUT", f"/backfills/{backfill_id}/unpause")

    def watch(
        self,
        runs: list[RunRef],
        on_end: Callable[[str, DayRun], None] = lambda dag_id, run: None,
        timeout: float = 1800,
    ) -> list[DayRun]:
        """Until every run of ``runs`` has ended: a line per task as it ends, and
        ``on_end(dag_id, run)`` as each run ends."""
        seen: set[tuple[str, str, int]] = set()
        pending = {r.run_id: r for r in runs}
        results: dict[str, DayRun] = {}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AirflowApiError(f"runs not done after {timeout:.0f} s: {sorted(pending)}")
            self.check_alive()
            for ref in list(pending.values()):
                run = self.call("GET", f"/dags/{ref.dag_id}/dagRuns/{ref.run_id}")
                tasks = self._tasks(ref)
                for ti in tasks:
                    key = (ref.run_id, ti["task_id"], ti["map_index"])
                    if ti["state"] in ENDED_TASK_STATES and key not in seen:
                        seen.add(key)
                        self._print_task(ref, ti)
                if run["state"] in DONE_RUN_STATES:
                    results[ref.run_id] = self._result(ref, run, tasks)
                    on_end(ref.dag_id, results[ref.run_id])
                    del pending[ref.run_id]
            if pending:
                time.sleep(POLL_SECONDS)
        return [results[r.run_id] for r in runs]

    def _tasks(self, ref: RunRef) -> list[dict]:
        return self.call(
            "GET",
            f"/dags/{ref.dag_id}/dagRuns/{ref.run_id}/taskInstances",
            params={"limit": 1000},
        )["task_instances"]

    def _print_task(self, ref: RunRef, ti: dict) -> None:
        label = ti.get("rendered_map_index") or ti["map_index"]
        mapped = f" [{label}]" if ti["map_index"] >= 0 else ""
        elapsed = duration(time.monotonic() - self.started)
        took = duration(ti.get("duration"))
        print(
            f"  [{elapsed:>10}] {ref.dag_id} {ref.label}: {ti['task_id']}{mapped} "
            f"{ti['state']}{f' in {took}' if took else ''}"
        )
        sys.stdout.flush()

    def _result(self, ref: RunRef, run: dict, tasks: list[dict]) -> DayRun:
        failed = sorted({t["task_id"] for t in tasks if t["state"] in FAILED_TASK_STATES})
        reasons, logs = {}, []
        for ti in tasks:
            if ti["state"] == "failed":
                path = self.log_path(ref, ti)
                reasons[ti["task_id"]] = last_error(path) or "(no error in the task log)"
                logs.append(path)
        began, ended = run.get("start_date"), run.get("end_date")
        seconds = (
            (datetime.fromisoformat(ended) - datetime.fromisoformat(began)).total_seconds()
            if began and ended
            else None
        )
        return DayRun(
            ref.label, ref.run_id, run["state"], failed, reasons, logs[0] if logs else None, seconds
        )

    def log_path(self, ref: RunRef, ti: dict) -> Path:
        """The task's log file (Airflow's default ``log_filename_template``)."""
        path = self.log_folder / f"dag_id={ref.dag_id}" / f"run_id={ref.run_id}"
        path = path / f"task_id={ti['task_id']}"
        if ti["map_index"] >= 0:
            path = path / f"map_index={ti['map_index']}"
        return path / f"attempt={max(1, ti.get('try_number') or 1)}.log"


def last_error(path: Path) -> str | None:
    """The last error of a task log (JSON lines): the exception's type and message, one line."""
    if not path.exists():
        return None
    found = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or record.get("level") not in ("error", "critical"):
            continue
        for error in record.get("error_detail") or []:
            if isinstance(error, dict) and error.get("exc_type"):
                found = f"{error['exc_type']}: {' '.join(str(error.get('exc_value')).split())}"
                break
        else:
            found = found or " ".join(str(record.get("event", "")).split())
    return found
