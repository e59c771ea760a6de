"""Airflow's own processes on the embedded default, started and stopped by one command.

``nightshift demo`` runs its DAGs through the real scheduler, as production does: the api-server
(the UI and the REST API), the scheduler (with LocalExecutor's workers) and the dag-processor, on
the SQLite metadata DB of the embedded default. Tasks then write their logs where the UI reads
them, and runs and tasks carry the times they really ran.

Each process runs in its own process group with its output in
``<airflow_home>/logs/processes/<name>.log``; :func:`running` stops every group it started
(SIGTERM, then SIGKILL after a grace period), whatever happens in between.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from pipelines.ops.run_args import UsageError

BIN = Path(sys.executable).parent
PROCESSES = ("api-server", "scheduler", "dag-processor")
# The DAG files are re-read this often (seconds): a backfill's runs move the scheduler's next
# run within a few seconds, which the demo waits for before it unpauses a DAG.
PARSE_INTERVAL_SECONDS = 5
STOP_GRACE_SECONDS = 30


class AirflowNotReady(RuntimeError):
    """A process exited or did not become healthy in time; the message has its log's tail."""


@dataclass
class EmbeddedAirflow:
    env: dict[str, str]
    url: str
    logs: Path
    names: tuple[str, ...] = PROCESSES
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        port = str(urlsplit(self.url).port)
        argv = {
            "api-server": ["api-server", "--port", port],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
        }
        for name in self.names:
            with (self.logs / f"{name}.log").open("wb") as out:
                self.processes[name] = subprocess.Popen(
                    [str(BIN / "airflow"), *argv[name]],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )

    def check_alive(self) -> None:
        dead = [name for name, proc in self.processes.items() if proc.poll() is not None]
        if dead:
            tails = "\n".join(f"--- {name}\n{self.log_tail(name)}" for name in dead)
            raise AirflowNotReady(f"Airflow's {', '.join(dead)} exited:\n{tails}")

    def wait_until_healthy(self, timeout: float = 180) -> None:
        """Until the API answers and reports the processes started here healthy."""
        parts = ["metadatabase", *(n.replace("-", "_") for n in self.names if n != "api-server")]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError, ValueError):
                health = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                if all((health.get(part) or {}).get("status") == "healthy" for part in parts):
                    return
            time.sleep(1)
        raise AirflowNotReady(
            f"Airflow not healthy after {timeout:.0f} s; see {self.logs}:\n"
            + self.log_tail("api-server")
        )

    def stop(self) -> None:
        stop_process_groups(list(self.processes.values()))

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop_process_groups(
    processes: list[subprocess.Popen], grace: float = STOP_GRACE_SECONDS
) -> None:
    """SIGTERM every process group started, then SIGKILL every group (children of a leader that
    already exited included: LocalExecutor's workers), whatever happens in between."""
    try:
        for proc in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
    finally:
        for proc in processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


def airflow_env(
    embedded: Mapping[str, str], url: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The processes' environment: ``base`` (default: this one's), with the embedded Airflow
    settings (unless it sets them) and the API's address for the tasks to call back."""
    env = dict(os.environ if base is None else base)
    for key, value in embedded.items():
        env.setdefault(key, value)
    env.update(
        {
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(PARSE_INTERVAL_SECONDS),
            # `airflow` starts helpers by name: the venv's bin first.
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def require_free_port(url: str) -> None:
    """Refuse to start beside another Airflow (``make airflow``) on the same port and DB."""
    parts = urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex((parts.hostname or "localhost", parts.port or 80)) == 0:
            raise UsageError(
                f"{parts.hostname}:{parts.port} is in use (is `make airflow` running? it shares "
                "the metadata DB): stop it and run again"
            )


@contextlib.contextmanager
def running(
    embedded: Mapping[str, str],
    url: str,
    names: tuple[str, ...] = PROCESSES,
    base_env: Mapping[str, str] | None = None,
) -> Iterator[EmbeddedAirflow]:
    """Migrate the metadata DB, start the processes ``names`` (the api-server first), wait until
    they are healthy; stop them at the end."""
    require_free_port(url)
    env = airflow_env(embedded, url, base_env)
    logs = Path(env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]) / "processes"
    migrated = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        tail = "\n".join(migrated.stderr.splitlines()[-20:])
        raise AirflowNotReady(f"airflow db migrate failed:\n{tail}")
    airflow = EmbeddedAirflow(env, url, logs, names)
    try:
        airflow.start()
        airflow.wait_until_healthy()
        yield airflow
    finally:
        airflow.stop()
