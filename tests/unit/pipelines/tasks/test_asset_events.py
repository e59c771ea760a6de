"""Asset events say what a task wrote: its partitions (dt), their rows and the run."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from pipelines.tasks.common import announces, written

VALIDATION = {
    "interval": "[2013-03-08, 2013-03-10)",
    "days": [
        {
            "day": "2013-03-08",
            "rows": {"flights": 798, "weather": 72},
            "quarantined": {"flights": 2},
        },
        {"day": "2013-03-09", "rows": {"flights": 752, "weather": 72}, "quarantined": {}},
    ],
}


def test_a_validation_summary_gives_each_table_its_rows_per_day() -> None:
    assert written("raw.flights", VALIDATION) == {
        "dt": ["2013-03-08", "2013-03-09"],
        "rows": {"2013-03-08": 798, "2013-03-09": 752},
    }
    assert written("quarantine.flights", VALIDATION) == {
        "dt": ["2013-03-08", "2013-03-09"],
        "rows": {"2013-03-08": 2},
    }
    # A table the summary does not count still gets its partitions.
    assert written("quality.validation_results", VALIDATION) == {"dt": ["2013-03-08", "2013-03-09"]}


def test_features_and_scores_summaries() -> None:
    features = {"interval": "[2013-03-08, 2013-03-09)", "rows_per_day": {"2013-03-08": 798}}
    assert written("features.flight_features", features) == {
        "dt": ["2013-03-08"],
        "rows": {"2013-03-08": 798},
    }
    scores = {"policy": "current_champion", "days": [{"day": "2013-03-09", "rows": 752}]}
    assert written("scores.flight_delay_predictions", scores)["rows"] == {"2013-03-09": 752}
    # No days at all: the interval, if the summary has one.
    assert written("warehouse", {"interval": "[2013-03-08, 2013-03-09)"}) == {
        "interval": "[2013-03-08, 2013-03-09)"
    }
    assert written("warehouse", {"tables": 3}) == {}


class _Events(dict):
    def __missing__(self, asset):
        self[asset] = SimpleNamespace(extra=None)
        return self[asset]


@dataclass(frozen=True)
class _Asset:
    name: str


def test_announces_stamps_every_outlet_of_the_task() -> None:
    raw, quarantine = _Asset("raw.flights"), _Asset("quarantine.flights")
    events = _Events()
    context = {
        "run_id": "backfill__2013-03-10",
        "task": SimpleNamespace(outlets=[raw, quarantine]),
        "outlet_events": events,
    }

    @announces
    def adapter(context):
        return VALIDATION

    assert adapter(context) is VALIDATION
    assert events[raw].extra["run_id"] == "backfill__2013-03-10"
    assert events[raw].extra["rows"] == {"2013-03-08": 798, "2013-03-09": 752}
    assert events[quarantine].extra["rows"] == {"2013-03-08": 2}
    # A plain dict context (tests, dag.test without outlets) is left alone.
    assert adapter({"run_id": "x"}) is VALIDATION
