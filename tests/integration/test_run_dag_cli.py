"""``nightshift run-dag`` as an operator runs it: a subprocess with its own NIGHTSHIFT_HOME (so its
own Airflow metadata DB), stopped by SIGTERM, or failing on a day that has no landing files.

The landing zone has each day's flights but no weather: every day's extract fails at once (no
retry in the embedded runner), which keeps the runs short. (A day with no flights file at all is
refused before Airflow starts: see tests/unit/pipelines/ops/test_run_dag_args.py.)
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipelines.dates import Interval
from pipelines.ingest.sources.files import generate_landing

pytestmark = pytest.mark.integration

NIGHTSHIFT = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "nightshift"


def _env(home: Path) -> dict[str, str]:
    """This environment without the test session's Airflow and lake settings: the command derives
    its own from NIGHTSHIFT_HOME, as on an operator's machine."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "NIGHTSHIFT_", "_AIRFLOW"))
    }
    env.update({"NIGHTSHIFT_HOME": str(home), "NIGHTSHIFT_SOURCE_KIND": "files"})
    return env


def _start(home: Path, *args: str) -> subprocess.Popen:
    start, end = args[args.index("--start") + 1], args[args.index("--end") + 1]
    landing = home / "data" / "landing"
    generate_landing(landing, Interval.of(start, end))
    shutil.rmtree(landing / "weather")
    return subprocess.Popen(
        [str(NIGHTSHIFT), "run-dag", "flights_daily", *args],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(stream, into: queue.Queue, kept: list[str]) -> None:
    for line in stream:
        kept.append(line)
        into.put(line)


def test_sigterm_stops_a_long_run_in_one_line(tmp_path: Path) -> None:
    proc = _start(tmp_path, "--start", "2013-01-01", "--end", "2013-01-20")
    out, err, lines = [], [], queue.Queue()
    readers = [
        threading.Thread(target=_lines, args=(proc.stdout, lines, out), daemon=True),
        threading.Thread(target=_lines, args=(proc.stderr, queue.Queue(), err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    # Wait until the first day has run (the runs are going), then stop it mid-range.
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        try:
            if lines.get(timeout=1).startswith("flights_daily 2013-01-01: "):
                break
        except queue.Empty:
            assert proc.poll() is None, "".join(err[-20:])
    else:
        proc.kill()
        pytest.fail("no run finished within 45 s:\n" + "".join(err[-20:]))
    time.sleep(1)
    stopped_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("still running 15 s after SIGTERM")
    assert time.monotonic() - stopped_at < 15
    for reader in readers:
        reader.join(timeout=5)
    assert code == 143
    last = [line.strip() for line in err if line.strip()][-1]
    assert re.fullmatch(r"stopped by SIGTERM after \d+ of 19 runs", last), last
    assert sum("stopped by SIGTERM" in line for line in err) == 1
    done = int(last.split()[4])
    assert 1 <= done < 19


def test_a_day_without_landing_files_fails_in_seconds_with_the_reason(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = _start(tmp_path, "--start", "2013-01-01", "--end", "2013-01-02")
    out, err = proc.communicate(timeout=120)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, err[-2000:]
    assert elapsed < 60, f"took {elapsed:.0f} s: a retry delay was slept through?"
    # A line per task as it ends, then the run's; Airflow's own logging only with --verbose.
    assert "  flights_daily 2013-01-01: plan_chunks done in" in out
    assert "[info" not in out
    report = out.splitlines()
    [run] = [line for line in report if line.startswith("flights_daily 2013-01-01: ")]
    assert run.startswith("flights_daily 2013-01-01: failed ") and "extract" in run
    [reason] = [line for line in report if line.startswith("  extract failed: ")]
    assert "SourceDataMissing: no landing file for weather of 2013-01-01" in reason
    [where] = [line for line in report if line.startswith("  traceback: ")]
    log_file = Path(where.split()[1])
    assert log_file.is_relative_to(tmp_path) and "SourceDataMissing" in log_file.read_text()
    assert err.strip().splitlines()[-1] == "1 of 1 runs failed"
    # Only these runs skip retries: the DAG the scheduler would run keeps its policy.
    assert _serialized_retries(tmp_path, "flights_daily")["extract"] == 3


def _serialized_retries(home: Path, dag_id: str) -> dict[str, int | None]:
    with sqlite3.connect(home / "data" / "airflow" / "airflow.db") as db:
        [(data,)] = db.execute("select data from serialized_dag where dag_id = ?", [dag_id])
    tasks = [t.get("__var", t) for t in json.loads(data)["dag"]["tasks"]]
    return {t["task_id"]: t.get("retries") for t in tasks}
