"""Benchmark of the nightly data path, stage by stage, over a range of days (no Airflow).

    .venv/bin/python benchmarks/data_path.py --start 2013-01-01 --end 2013-02-01

Runs the same stage functions the DAG tasks call, one day at a time like the nightly run, and
reports the median and p90 seconds per day of each stage, plus peak memory (max RSS). The lake it
leaves behind is a full history for the training benchmark. Timings are figures for the README,
never assertions.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from functools import partial
from pathlib import Path

from pipelines.dates import Interval
from pipelines.features.build import build_flight_features
from pipelines.ingest.extract import extract
from pipelines.ingest.sources.files import FilesSource, generate_landing
from pipelines.ingest.validate import validate_and_publish
from pipelines.settings import REPO_ROOT, Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", default="2013-01-01")
    parser.add_argument("--end", default="2013-02-01")
    parser.add_argument("--lake", type=Path, default=REPO_ROOT / "data" / "bench" / "lake")
    parser.add_argument("--landing", type=Path, default=REPO_ROOT / "data" / "bench" / "landing")
    args = parser.parse_args()
    interval = Interval.of(args.start, args.end)

    started = time.perf_counter()
    generate_landing(args.landing, interval)
    landing_seconds = time.perf_counter() - started

    source = FilesSource(args.landing)
    bounds = Settings().row_count_bounds()
    timings: dict[str, list[float]] = {"extract": [], "validate": [], "features": []}
    for day in interval.days():
        one = Interval.day(day)
        run_id = f"bench__{day}"
        stages = {
            "extract": partial(extract, source, args.lake, one, run_id),
            "validate": partial(validate_and_publish, args.lake, one, run_id, bounds),
            "features": partial(
                build_flight_features, args.lake, REPO_ROOT / "sql", one, run_id, interval.start
            ),
        }
        for stage, call in stages.items():
            t0 = time.perf_counter()
            call()
            timings[stage].append(time.perf_counter() - t0)

    report = {
        "interval": str(interval),
        "days": len(interval),
        "landing_generation_seconds": round(landing_seconds, 2),
        "seconds_per_day": {
            stage: {
                "median": round(statistics.median(values), 3),
                "p90": round(sorted(values)[int(0.9 * (len(values) - 1))], 3),
                "first_day": round(values[0], 3),
                "last_day": round(values[-1], 3),
            }
            for stage, values in timings.items()
        },
        "total_seconds": round(time.perf_counter() - started, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
