"""Open what a person would look at after ``make demo`` in headless Chromium, check that it shows
what it should, and keep the screenshots the README shows (``make screenshots``).

- the Airflow grid of the last nightly ``flights_daily`` run, with a task's log open;
- the Airflow grid of the scoring DAG (a run marked by an open monitoring incident is red);
- the monitoring report of the demo's last scored day;
- the MLflow page of the champion's registered version (its model card).

It starts the api-server and an MLflow UI on free local ports over the demo's stores and stops
them at the end. Needs Chromium (Debian: ``apt-get install chromium``). Each page must contain the
text listed with it, or the script exits 1 naming the page: a page that renders empty, a log the
UI cannot find or a model with no card is a failure, not a picture.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.ops.airflow_env import embedded_airflow_env  # noqa: E402
from pipelines.ops.embedded_airflow import running  # noqa: E402
from pipelines.settings import get_settings  # noqa: E402

IMAGES = REPO / "docs" / "images"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    sys.exit("Chromium not found: apt-get install -y chromium")


def browse(url: str, png: Path | None, size: str = "1600,1000") -> str:
    """The page's DOM once its scripts ran; a screenshot too when ``png`` is given."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    base += [f"--window-size={size}", "--virtual-time-budget=20000"]
    with tempfile.TemporaryDirectory() as profile:
        base.append(f"--user-data-dir={profile}")
        dom = subprocess.run(
            [*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False
        ).stdout
        if png is not None:
            subprocess.run(
                [*base, f"--screenshot={png}", url], capture_output=True, timeout=120, check=False
            )
    return dom


@contextlib.contextmanager
def mlflow_ui(port: int) -> Iterator[str]:
    settings = get_settings()
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "ui",
            "--backend-store-uri",
            settings.mlflow_tracking_uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(90):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        proc.kill()


def champion_version(tracking_uri: str) -> str:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri).get_model_version_by_alias("flight_delay", "champion").version


def main() -> int:
    settings = get_settings()
    IMAGES.mkdir(parents=True, exist_ok=True)
    failures = []

    def check(name: str, dom: str, *wanted: str) -> None:
        missing = [w for w in wanted if w not in dom]
        print(f"{name}: {'ok' if not missing else 'MISSING ' + ', '.join(missing)}")
        if missing:
            failures.append(name)

    report = settings.reports_root / "monitoring" / "latest.html"
    dom = browse(report.resolve().as_uri(), IMAGES / "monitoring-report.png", "1400,1800")
    check("monitoring report", dom, "flight_delay monitoring", "Incidents", "Feature drift")

    airflow_url = f"http://localhost:{free_port()}"
    with running(embedded_airflow_env(settings), airflow_url, ("api-server",)):
        last = settings.schedule_end
        assert last is not None
        run = quote(f"backfill__{last.fromordinal(last.toordinal() + 1)}T00:00:00+00:00")
        task = f"{airflow_url}/dags/flights_daily/runs/{run}/tasks/validate_and_publish/mapped/0"
        dom = browse(task, IMAGES / "airflow-task-log.png")
        check("airflow task log", dom, "validate_and_publish", f"validated {last}")
        dom = browse(f"{airflow_url}/dags/flight_delay_scoring", IMAGES / "airflow-alerted-run.png")
        check("airflow scoring grid", dom, "flight_delay_scoring", "raise_alert")

    with mlflow_ui(free_port()) as mlflow_url:
        version = champion_version(settings.mlflow_tracking_uri)
        classic = "workflowType=machine_learning"  # a new browser opens MLflow's GenAI view
        page = f"{mlflow_url}/#/models/flight_delay/versions/{version}?{classic}"
        dom = browse(page, IMAGES / "mlflow-model-card.png", "1400,1600")
        check("mlflow model version", dom, f"version {version}", "Promotion", "Holdout metrics")
    if failures:
        print(f"pages that do not show what they should: {', '.join(failures)}", file=sys.stderr)
        return 1
    print(f"screenshots in {IMAGES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
