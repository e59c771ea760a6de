"""Model quality on the real data: train through 2013-09-30, hold out 2013-10-01..2013-12-30.

    .venv/bin/python benchmarks/data_path.py --start 2013-01-01 --end 2013-12-31   # the lake
    .venv/bin/python benchmarks/model_quality.py

Runs the same library call as the training DAG's ``train`` task (time split, fit, baseline, MLflow
run with plots, registered version) on the lake the data-path benchmark leaves behind, into its own
MLflow store under ``data/bench``. The holdout ends on 2013-12-30 because the sample has no weather
for 2013-12-31 (validation blocks that day). Prints holdout metrics of the model and of the
route-rate baseline, the fit time and peak memory: figures for the README, never assertions.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import uuid
from pathlib import Path

from pipelines.settings import REPO_ROOT
from pipelines.training.config import TrainingConfig
from pipelines.training.train import train_challenger

AS_OF = "2013-12-31"  # exclusive: the holdout's last day is 2013-12-30
HOLDOUT_DAYS = 91  # 2013-10-01 .. 2013-12-30
WINDOW_DAYS = 364  # from 2013-01-01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    bench = REPO_ROOT / "data" / "bench"
    parser.add_argument("--lake", type=Path, default=bench / "lake")
    parser.add_argument("--mlflow", default=f"sqlite:///{bench / 'mlflow.db'}")
    parser.add_argument("--search-budget", type=int, default=0)
    args = parser.parse_args()

    config = TrainingConfig(
        window_days=WINDOW_DAYS, holdout_days=HOLDOUT_DAYS, search_budget=args.search_budget
    )
    started = time.perf_counter()
    result = train_challenger(
        args.lake,
        args.mlflow,
        bench / "mlartifacts",
        AS_OF,
        config,
        # A fresh id each time: a rerun measures a new fit instead of reusing the registered one.
        f"benchmark__model_quality__{uuid.uuid4().hex[:8]}",
    )
    seconds = time.perf_counter() - started
    keys = ("roc_auc", "pr_auc", "brier", "log_loss", "rows", "positive_rate")
    report = {
        "holdout": result.holdout,
        "model": {k: round(result.metrics[k], 4) for k in keys},
        "baseline": {k: round(result.baseline[k], 4) for k in keys},
        "params": result.params,
        "mlflow_run_id": result.mlflow_run_id,
        "registered_version": result.version,
        "train_task_seconds": round(seconds, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
