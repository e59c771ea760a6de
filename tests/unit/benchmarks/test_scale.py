"""The scale generator: N copies of a real day that the real stages accept, the same every time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from benchmarks.scale_keys import MAX_FLIGHT_NUMBER, MAX_SCALE, CopyKeys, flight_slots
from pipelines import tables
from pipelines.dates import Interval
from pipelines.ingest.sources.files import FilesSource, generate_landing
from pipelines.ingest.sources.nycflights import day_of, full_table
from pipelines.storage import lake
from tests.fixtures.scaled_day import DAY, HISTORY_DAYS, SCALE, ScaledDay, generate


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.csv"))}


def test_two_runs_write_identical_landing_files_and_history(tmp_path: Path) -> None:
    generate(tmp_path / "a", history_days=2)
    generate(tmp_path / "b", history_days=2)
    assert _files(tmp_path / "a" / "landing") == _files(tmp_path / "b" / "landing")
    for day in Interval(DAY - timedelta(days=2), DAY).days():
        first, second = (
            lake.read_partition(tmp_path / r / "lake", *tables.raw("flights").address, day)
            for r in ("a", "b")
        )
        assert first.equals(second)


def test_at_1x_the_files_are_the_landing_generator_s(tmp_path: Path) -> None:
    generate(tmp_path / "scaled", scale=1, history_days=0)
    generate_landing(tmp_path / "day", Interval.day(DAY))
    generate_landing(tmp_path / "eve", Interval.day(DAY - timedelta(days=1)))  # feeds of DAY
    ours = _files(tmp_path / "scaled" / "landing")
    expected = {**_files(tmp_path / "eve"), **_files(tmp_path / "day")}
    assert ours == {name: expected[name] for name in ours}
    assert len(ours) == 7


def test_the_day_holds_n_copies_with_unique_keys(scaled_day: ScaledDay) -> None:
    flights = FilesSource(scaled_day.landing).extract("flights", DAY)
    real = day_of("flights", DAY)
    assert flights.num_rows == SCALE * real.num_rows
    keys = flights.group_by(["carrier", "flight", "origin"]).aggregate([([], "count_all")])
    assert keys.num_rows == flights.num_rows
    # Copies keep their original's schedule and outcome: the same multiset of delays.
    assert pc.sum(flights["arr_delay"]).as_py() == pytest.approx(
        SCALE * pc.sum(real["arr_delay"]).as_py()
    )


def test_the_scaled_day_passes_the_real_validation(scaled_day: ScaledDay) -> None:
    for summary in (scaled_day.actuals, scaled_day.feeds):
        (day,) = summary.days
        assert day.passed, day.failures
        assert day.warnings == []
        assert set(day.quarantined.values()) == {0}
    assert scaled_day.actuals.days[0].rows["flights"] == SCALE * day_of("flights", DAY).num_rows


def test_reference_tables_know_every_synthetic_carrier_and_tail(scaled_day: ScaledDay) -> None:
    source = FilesSource(scaled_day.landing)
    flights = source.extract("flights", DAY)
    carriers = set(source.extract("airlines", DAY)["carrier"].to_pylist())
    assert set(flights["carrier"].to_pylist()) <= carriers
    assert len(carriers) > len(full_table("airlines"))
    tails = set(source.extract("planes", DAY)["tailnum"].to_pylist())
    flown = set(flights["tailnum"].drop_null().to_pylist())
    real_known = set(day_of("flights", DAY)["tailnum"].drop_null().to_pylist()) & set(
        full_table("planes")["tailnum"].to_pylist()
    )
    assert len(flown & tails) == SCALE * len(real_known)


def test_the_history_is_in_the_raw_layer_at_the_same_scale(scaled_day: ScaledDay) -> None:
    days = lake.list_partitions(scaled_day.lake, *tables.raw("flights").address)
    assert days == list(Interval(DAY - timedelta(days=HISTORY_DAYS), DAY + timedelta(1)).days())
    before = DAY - timedelta(days=1)
    history = lake.read_partition(scaled_day.lake, *tables.raw("flights").address, before)
    assert history.num_rows == SCALE * day_of("flights", before).num_rows


def test_a_copy_s_keys_never_depend_on_the_scale() -> None:
    small, large = CopyKeys.for_scale(10), CopyKeys.for_scale(MAX_SCALE)
    assert [small.code("UA", k) for k in range(10)] == [large.code("UA", k) for k in range(10)]
    assert small.code("UA", 0) == "UA"
    assert set(small.synthetic_carriers()) < set(large.synthetic_carriers())


def test_at_the_largest_scale_flight_numbers_fit_and_keys_stay_unique() -> None:
    """One day's worth of the widest slots of every carrier and origin, copied MAX_SCALE times."""
    widest: dict[tuple[str, str], tuple[int, int]] = {}
    for (carrier, flight, origin), slot in flight_slots().items():
        if slot >= widest.get((carrier, origin), (-1, 0))[0]:
            widest[(carrier, origin)] = (slot, flight)
    wanted = {(c, f, o) for (c, o), (_, f) in widest.items()}
    sample = full_table("flights")
    keys = zip(*(sample[c].to_pylist() for c in ("carrier", "flight", "origin")), strict=True)
    first = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    day = sample.take(pa.array([first[k] for k in sorted(wanted)]))
    copies = pa.Table.from_batches(list(CopyKeys.for_scale(MAX_SCALE).copy_batches(day)))
    assert copies.num_rows == MAX_SCALE * day.num_rows
    assert pc.max(copies["flight"]).as_py() <= MAX_FLIGHT_NUMBER
    assert pc.min(copies["flight"]).as_py() >= 1
    unique = copies.group_by(["carrier", "flight", "origin"]).aggregate([([], "count_all")])
    assert unique.num_rows == copies.num_rows
