"""Scoring counts its history from the lake as published, before it puts the as-of views in place:
the day before's kept counts are moved a day (the 29th day out), exactly as counted afresh."""

from __future__ import annotations

from datetime import date, timedelta

from benchmarks.scale import write_history
from benchmarks.scale_keys import CopyKeys
from pipelines import tables
from pipelines.ingest.sources.nycflights import day_of
from pipelines.serving import scoring
from pipelines.storage import lake
from tests.fixtures.trailing_counts import flight_numbers_by_hand, prepared

D = date(2013, 3, 15)
HISTORY = 35  # the day 29 days before D is in the lake: moving the counts takes it out


def test_scoring_moves_the_published_counts_a_day(tmp_path, sql_root) -> None:
    root = tmp_path / "lake"
    write_history(root, D, CopyKeys.for_scale(1), HISTORY)
    for feed in tables.NEXT_DAY_TABLES:  # what the evening before D publishes
        lake.write_partition(root, *tables.raw(feed).address, D, day_of(feed, D), "feeds")
    how, _, _ = prepared(root, sql_root, D - timedelta(days=1), run_id="the night before")
    assert how.flight_numbers == "counted"

    first = D - timedelta(days=HISTORY)
    with scoring.scoring_features(root, sql_root, D, first, run_id="score") as features:
        scored = features.read_all()

    assert scored.num_rows == day_of("schedule", D).num_rows
    path = lake.partition_file(root, *tables.FLIGHT_NUMBER_28D.address, D)
    kept = lake.read_partition(root, *tables.FLIGHT_NUMBER_28D.address, D)
    assert set(kept.column(lake.RUN_ID_COLUMN).to_pylist()) == {"score"}  # moved by scoring
    counted = sorted(zip(*(kept[c].to_pylist() for c in trailing_columns()), strict=True))
    assert counted == flight_numbers_by_hand(root, D)
    assert path is not None


def trailing_columns() -> tuple[str, ...]:
    return ("feature_date", "carrier", "flight_number", "flights_28d", "delayed_28d")
