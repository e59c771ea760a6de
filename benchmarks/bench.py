"""Benchmark the nightly path at 1x to 10,000x the real flights of a day: ``make bench``.

    .venv/bin/python -m benchmarks.bench            # 1, 10, 100, 1,000, 10,000x
    .venv/bin/python -m benchmarks.bench --quick    # 1, 10, 100x: a few minutes
    .venv/bin/python -m benchmarks.bench --scales 1000 --stage-timeout 1800

For each scale: the scale generator writes ``data/bench/scale-<N>/`` (landing files of the day and
the trailing history in the lake's raw layer), reused while its stamp (scale, day, history days,
generator source) matches. Then every stage runs through its public function, each in its own
process (``benchmarks/stages.py``), so its wall time and peak RSS are its own: extract, validate,
features (the day's actuals); extract_feeds, validate_feeds, score (the next-day feeds of the day,
scored by the champion); publish (into PostgreSQL, when reachable); damaged (the same day with
``--damaged-rows`` bad clock times and as many flights delivered twice, ``benchmarks/damage.py``: it
must be blocked, with the offending rows alone quarantined and the published day unchanged). Up to
``--reference-max-scale`` a plain pandas reference (``benchmarks/pandas_reference.py``) scores the
same day from the same files and is compared with the pipeline's output. Before the first scale, one
model is trained on the 1x data into ``data/bench/mlflow.db`` and promoted, as ``@champion``.

A stage that fails or outlives ``--stage-timeout`` is recorded (status, error, log file) and the
stages that need its output are skipped; the run goes on. Output: ``data/bench/results.json``,
``results.md`` (the table for the README's Performance section, also printed) and ``results.png``.
Timings are figures for the README, never assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import bench_report
from benchmarks.scale import forget_the_night
from pipelines.settings import REPO_ROOT, Settings

BENCH = REPO_ROOT / "data" / "bench"
FULL_SCALES = (1, 10, 100, 1_000, 10_000)
QUICK_SCALES = (1, 10, 100)
DATA_PATH = ("extract", "validate", "features", "extract_feeds", "validate_feeds", "score")
STAGES = (*DATA_PATH, "publish", "damaged")
# A stage runs only if the stage it reads the output of succeeded in this run.
NEEDS = {
    "validate": "extract",
    "features": "validate",
    "validate_feeds": "extract_feeds",
    "score": "validate_feeds",
    "publish": "score",
    "damaged": "validate",
}
GENERATOR_SOURCES = ("scale.py", "scale_keys.py")
PG_ADMIN_DSN = os.environ.get(
    "NIGHTSHIFT_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PUBLISH_DATABASE = "nightshift_bench"


@dataclass(frozen=True)
class Measured:
    status: str  # ok, failed, timeout
    exit_code: int
    process_seconds: float
    peak_rss_mib: float


def run_measured(command: list[str], log: Path, timeout: float, env: dict[str, str]) -> Measured:
    """Run ``command`` in its own process group; its wall time and peak RSS (``wait4``).

    Past ``timeout`` seconds the group is killed: the result says ``timeout``.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
        )
        started, timed_out = time.perf_counter(), False
        try:
            while not (found := os.wait4(process.pid, os.WNOHANG))[0]:
                if time.perf_counter() - started > timeout:
                    timed_out = True
                    break
                time.sleep(0.1)
        finally:  # past the timeout, or the benchmark itself interrupted: stop the stage too
            if timed_out or sys.exc_info()[0] is not None:
                os.killpg(process.pid, signal.SIGKILL)
                found = os.wait4(process.pid, 0)
        _, status, usage = found
    process.returncode = code = os.waitstatus_to_exitcode(status)
    seconds = round(time.perf_counter() - started, 2)
    state = "timeout" if timed_out else "ok" if code == 0 else "failed"
    return Measured(state, code, seconds, round(usage.ru_maxrss / 1024, 1))


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.tracking_uri = f"sqlite:///{(self.out / 'mlflow.db').resolve()}"
        self.results: dict[str, Any] = {
            "machine": bench_report.machine(),
            "parameters": {
                "day": str(args.day),
                "history_days": args.history_days,
                "scales": list(args.scales),
                "stage_timeout_seconds": args.stage_timeout,
                "tracking_uri": self.tracking_uri,
            },
            "model": None,
            "stages": [],
            "reference": [],
        }

    def _python(self, *arguments: str) -> list[str]:
        return [sys.executable, *arguments]

    def _stage_command(self, stage: str, root: Path, result: Path, scale: int) -> list[str]:
        return self._python(
            "-m",
            "benchmarks.stages",
            stage,
            "--root",
            str(root),
            "--day",
            str(self.args.day),
            "--history-days",
            str(self.args.history_days),
            "--run-id",
            f"bench__{stage}__{scale}x",
            "--tracking-uri",
            self.tracking_uri,
            "--artifacts",
            str((self.out / "mlartifacts").resolve()),
            "--publish-dsn",
            PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{PUBLISH_DATABASE}",
            "--publish-schema",
            f"bench_scale_{scale}",
            "--damaged-rows",
            str(self.args.damaged_rows),
            "--result",
            str(result),
        )

    def measure(
        self, name: str, command: list[str], root: Path, env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Run one measured process; its row (``result`` JSON merged in, if it wrote one)."""
        result, log = root / "results" / f"{name}.json", root / "logs" / f"{name}.log"
        result.unlink(missing_ok=True)
        measured = run_measured(command, log, self.args.stage_timeout, env or dict(os.environ))
        row: dict[str, Any] = json.loads(result.read_text()) if result.exists() else {}
        row.update(
            stage=name,
            status=measured.status if row.get("status", "ok") == "ok" else row["status"],
            process_seconds=measured.process_seconds,
            peak_rss_mib=measured.peak_rss_mib,
            log=str(log),
        )
        row.setdefault("seconds", measured.process_seconds)
        if measured.status == "timeout":
            row["error"] = f"killed after {self.args.stage_timeout:g} s (--stage-timeout)"
        elif row["status"] != "ok" and "error" not in row:  # died without a word: killed?
            row["error"] = f"exit code {measured.exit_code}; last output: {_last_line(log)}"
        if row.get("rows") and row["status"] == "ok":
            row["rows_per_second"] = round(row["rows"] / max(row["seconds"], 1e-6))
        error = row.get("error", "")[:150]
        print(f"  {name:<15} {row['status']:<8} {row['seconds']:>9.2f} s", end="")
        print(f" {row['peak_rss_mib']:>8.0f} MiB  {error}", flush=True)
        return row

    def train(self) -> None:
        root = self.out / "model"
        command = self._stage_command("train", root, root / "results" / "train.json", 1)
        command[command.index("--run-id") + 1] = f"bench__train__{self.args.day}"
        print("model (1x, for scoring):", flush=True)
        self.results["model"] = self.measure("train", command, root)

    def generate(self, scale: int) -> tuple[Path, int | None]:
        """``data/bench/scale-<N>/``, generated unless its stamp matches; the day's flights
        (None: the generator failed, which its row in the results says)."""
        root = self.out / f"scale-{scale}"
        stamp = {
            "scale": scale,
            "day": str(self.args.day),
            "history_days": self.args.history_days,
            "generator": _source_hash(),
        }
        stamp_file = root / "stamp.json"
        if stamp_file.exists() and (found := json.loads(stamp_file.read_text()))["stamp"] == stamp:
            print(f"{scale:,}x: reusing {root} (generated in {found['row']['seconds']:.0f} s)")
            self.results["stages"].append({**found["row"], "reused": True})
            return root, found["row"]["flights"]
        shutil.rmtree(root, ignore_errors=True)
        print(f"{scale:,}x: generating {root}", flush=True)
        command = self._python(
            str(REPO_ROOT / "benchmarks" / "scale.py"),
            "--scale",
            str(scale),
            "--day",
            str(self.args.day),
            "--landing",
            str(root / "landing"),
            "--lake",
            str(root / "lake"),
            "--history-days",
            str(self.args.history_days),
        )
        row = self.measure("generate", command, root)
        if row["status"] != "ok":
            self.results["stages"].append({"scale": scale, "flights": None, **row})
            return root, None
        report = json.loads(_last_line(Path(row["log"])))
        flights = report["landing"]["flights"]
        # Rows: every flight written, the day's and its history's (landing files and lake).
        written = flights + report.get("history", {}).get("flights", 0)
        row = {"scale": scale, "flights": flights, **row, "rows": written, "written": report}
        row["rows_per_second"] = round(written / max(row["seconds"], 1e-6))
        self.results["stages"].append(row)
        stamp_file.write_text(json.dumps({"stamp": stamp, "row": row}, indent=2))
        return root, flights

    def stage_env(self, flights: int) -> dict[str, str]:
        """The environment of a stage: the row-count limit raised, as a deployment would set it,
        when the scaled day exceeds the configured maximum."""
        env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
        if flights > Settings().max_flights_per_day:
            env["NIGHTSHIFT_MAX_FLIGHTS_PER_DAY"] = str(2 * flights)
        return env

    def run_scale(self, scale: int) -> None:
        root, flights = self.generate(scale)
        if flights is None:
            print(f"{scale:,}x: no data, no stages (see the generate row)", flush=True)
            self.save()
            return
        env, done = self.stage_env(flights), {}
        forget_the_night(root / "lake", self.args.day)  # a reused lake: count the night again
        for stage in STAGES:
            needed = NEEDS.get(stage)
            if stage == "publish" and self.args.no_publish:
                row = {"stage": stage, "status": "skipped", "error": "--no-publish"}
            elif stage == "damaged" and not self.args.damaged_rows:
                row = {"stage": stage, "status": "skipped", "error": "--damaged-rows 0"}
            elif needed and done.get(needed) != "ok":
                row = {"stage": stage, "status": "skipped", "error": f"{needed} did not succeed"}
            else:
                result = root / "results" / f"{stage}.json"
                row = self.measure(
                    stage, self._stage_command(stage, root, result, scale), root, env
                )
            done[stage] = row["status"]
            self.results["stages"].append({"scale": scale, "flights": flights, **row})
            self.save()
        self.reference(scale, root, flights, env)

    def reference(self, scale: int, root: Path, flights: int, env: dict[str, str]) -> None:
        row: dict[str, Any] = {"scale": scale, "flights": flights}
        if scale > self.args.reference_max_scale:
            reason = f"above --reference-max-scale {self.args.reference_max_scale}: the 28 days"
            reason += " of history do not fit in pandas' memory"
            row.update(stage="reference", status="skipped", error=reason)
        else:
            command = self._python(
                "-m",
                "benchmarks.pandas_reference",
                "--root",
                str(root),
                "--day",
                str(self.args.day),
                "--tracking-uri",
                self.tracking_uri,
                "--result",
                str(root / "results" / "reference.json"),
            )
            row.update(self.measure("reference", command, root, env))
        stages = self.results["stages"]
        row["pipeline_seconds"] = bench_report.scoring_path_seconds(stages, scale)
        unvalidated = bench_report.scoring_path_seconds(stages, scale, validated=False)
        if row["status"] == "ok" and row["pipeline_seconds"] is not None:
            row["speed_ratio"] = round(row["pipeline_seconds"] / row["seconds"], 3)
            row["speed_ratio_unvalidated"] = round(unvalidated / row["seconds"], 3)
        self.results["reference"].append(row)
        self.save()

    def save(self) -> str:
        return bench_report.write(self.results, self.out)


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _source_hash() -> str:
    digest = hashlib.sha256()
    for name in GENERATOR_SOURCES:
        digest.update((REPO_ROOT / "benchmarks" / name).read_bytes())
    return digest.hexdigest()[:16]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"scales {QUICK_SCALES}")
    parser.add_argument("--scales", type=lambda s: tuple(int(x) for x in s.split(",")))
    parser.add_argument("--day", type=date.fromisoformat, default=date(2013, 6, 3))
    parser.add_argument("--history-days", type=int, default=28)
    parser.add_argument("--stage-timeout", type=float, help="seconds (3600; --quick: 300)")
    parser.add_argument("--reference-max-scale", type=int, default=1_000)
    parser.add_argument("--no-publish", action="store_true", help="skip the PostgreSQL publish")
    parser.add_argument("--damaged-rows", type=int, default=300, help="of each kind; 0: skip")
    parser.add_argument("--out", type=Path, default=BENCH)
    args = parser.parse_args(argv)
    args.scales = args.scales or (QUICK_SCALES if args.quick else FULL_SCALES)
    args.stage_timeout = args.stage_timeout or (300.0 if args.quick else 3_600.0)
    return args


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"benchmark stopped by signal {signum}")


def main(argv: list[str] | None = None) -> None:
    # Terminated like interrupted: an exception, so run_measured kills the running stage too
    # (it runs in its own session and would otherwise outlive the benchmark).
    signal.signal(signal.SIGTERM, _stop)
    bench = Bench(parse_args(argv))
    bench.train()
    for scale in bench.args.scales:
        bench.run_scale(scale)
    print()
    print(bench.save())
    print(f"written: {bench.out / 'results.json'}, results.md, results.png")


if __name__ == "__main__":
    main()
