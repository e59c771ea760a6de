"""The trailing counts the feature SQL reads: kept, moved a day, counted again when stale.

Real flights of 2013 (the sample at 1x), written straight into the lake's raw layer. Whatever way
the counts of a day are found, they equal the 28 days counted afresh.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from benchmarks.scale import write_history
from benchmarks.scale_keys import CopyKeys
from pipelines import tables, trailing
from pipelines.dates import Interval
from pipelines.history import lake_days
from pipelines.ingest.sources.nycflights import day_of
from pipelines.storage import lake, snapshots
from pipelines.storage.warehouse import lake_connection
from tests.fixtures.trailing_counts import counted_afresh, flight_numbers_by_hand, prepared

D = date(2013, 3, 15)
HISTORY = 35  # the lake holds D - 35 .. D - 1


@pytest.fixture
def lake_root(tmp_path):
    root = tmp_path / "lake"
    write_history(root, D, CopyKeys.for_scale(1), HISTORY)
    return root


def test_a_day_alone_keeps_its_counts_and_the_next_day_moves_them(lake_root, sql_root):
    how, numbers, daily = prepared(lake_root, sql_root, D - timedelta(days=1))
    assert how == trailing.Prepared("counted", 28)
    assert (numbers, daily) == counted_afresh(lake_root, sql_root, D - timedelta(days=1))

    again = prepared(lake_root, sql_root, D - timedelta(days=1))
    assert again == (trailing.Prepared("kept", 0), numbers, daily)

    how, numbers, daily = prepared(lake_root, sql_root, D)
    assert how == trailing.Prepared("moved", 1)  # D - 1 in, D - 29 out; one new day counted
    assert (numbers, daily) == counted_afresh(lake_root, sql_root, D)
    assert numbers == flight_numbers_by_hand(lake_root, D)  # and counted apart from the SQL
    assert numbers and all(flights > 0 for *_, flights, _ in numbers)


def test_kept_partitions_name_the_raw_files_they_were_counted_from(lake_root, sql_root):
    prepared(lake_root, sql_root, D)
    path = lake.partition_file(lake_root, *tables.FLIGHT_NUMBER_28D.address, D)
    counted_from = json.loads(lake.footer_metadata(path)["nightshift.counted_from"])
    sources = counted_from["raw.flights"]
    assert sorted(sources) == [d.isoformat() for d in trailing.window(D)]
    assert (
        sources[(D - timedelta(days=1)).isoformat()]
        == lake.partition_file(lake_root, *tables.raw("flights").address, D - timedelta(days=1))
        .relative_to(lake_root)
        .as_posix()
    )


def _republish(lake_root, day: date, arr_delay: float) -> None:
    """Day ``day`` again, every flight ``arr_delay`` minutes late."""
    flights = day_of("flights", day)
    late = pc.if_else(pc.is_valid(flights["arr_delay"]), arr_delay, None)
    index = flights.schema.get_field_index("arr_delay")
    changed = flights.set_column(index, "arr_delay", late.cast(flights["arr_delay"].type))
    lake.write_partition(lake_root, *tables.raw("flights").address, day, changed, "fix")


def test_a_republished_day_makes_every_count_that_read_it_stale(lake_root, sql_root):
    prepared(lake_root, sql_root, D - timedelta(days=1))
    prepared(lake_root, sql_root, D)
    _republish(lake_root, D - timedelta(days=5), arr_delay=120.0)

    how, numbers, daily = prepared(lake_root, sql_root, D)
    # D's counts and D - 1's both read the day: counted again, and that day's route counts too.
    assert how == trailing.Prepared("counted", 1)
    assert (numbers, daily) == counted_afresh(lake_root, sql_root, D)


def test_a_day_published_after_its_gap_was_counted_is_counted_in(lake_root, sql_root):
    gap = D - timedelta(days=3)
    kept = lake.read_partition(lake_root, *tables.raw("flights").address, gap)
    lake.delete_partition(lake_root, *tables.raw("flights").address, gap)
    _, without, _ = prepared(lake_root, sql_root, D)
    lake.write_partition(lake_root, *tables.raw("flights").address, gap, kept, "late")

    how, numbers, daily = prepared(lake_root, sql_root, D)
    assert how.flight_numbers == "counted" and how.route_hour_days_counted == 1
    assert (numbers, daily) == counted_afresh(lake_root, sql_root, D)
    assert sum(r[3] for r in numbers) > sum(r[3] for r in without)


def test_a_reader_counts_in_memory_and_writes_nothing(lake_root, sql_root):
    before = snapshots.current_id(lake_root)
    how, numbers, daily = prepared(lake_root, sql_root, D, run_id=None)
    assert how == trailing.Prepared("counted", 28)
    assert snapshots.current_id(lake_root) == before
    assert not lake.list_partitions(lake_root, *tables.FLIGHT_NUMBER_28D.address)
    assert (numbers, daily) == counted_afresh(lake_root, sql_root, D)

    prepared(lake_root, sql_root, D - timedelta(days=1))  # kept by a run: a reader uses it
    how, moved, _ = prepared(lake_root, sql_root, D, run_id=None)
    assert how == trailing.Prepared("moved", 1) and moved == numbers
    assert snapshots.current_id(lake_root) != before  # only the run's commit


def test_a_flight_number_whose_window_empties_drops_out(lake_root, sql_root):
    # The oldest day of D - 1's window is the only one to fly number 9998: moving to D takes
    # its one flight out, and the number goes, as one never flown.
    oldest = D - timedelta(days=29)
    flights = lake.read_partition(lake_root, *tables.raw("flights").address, oldest)
    flights = flights.drop_columns([lake.RUN_ID_COLUMN])
    lone = flights.filter(pc.is_valid(flights["arr_delay"])).slice(0, 1)
    number = lone.schema.get_field_index("flight")
    lone = lone.set_column(number, "flight", pa.array([9998], lone.schema.field(number).type))
    changed = pa.concat_tables([flights, lone])
    lake.write_partition(lake_root, *tables.raw("flights").address, oldest, changed, "test")
    carrier = lone["carrier"][0].as_py()

    _, before, _ = prepared(lake_root, sql_root, D - timedelta(days=1))
    how, after, _ = prepared(lake_root, sql_root, D)

    assert (carrier, 9998) in {(r[1], r[2]) for r in before}
    assert how.flight_numbers == "moved"
    assert (carrier, 9998) not in {(r[1], r[2]) for r in after}
    assert after == counted_afresh(lake_root, sql_root, D)[0]


def test_a_connection_prepared_again_for_another_interval_defines_the_counts_afresh(
    lake_root, sql_root
):
    # The single day's counts are a view over its kept partition, the run's a table in memory:
    # preparing one after the other on a connection replaces each by the other.
    before = D - timedelta(days=1)
    prepared(lake_root, sql_root, before)
    run = Interval(D - timedelta(days=2), D)
    with lake_connection(lake_root, sql_root, days=lake_days(run)) as con:
        found = [
            trailing.prepare(con, lake_root, sql_root, days, "test").flight_numbers
            for days in (run, Interval.day(before), run)
        ]
    assert found == ["set-based", "kept", "set-based"]


def test_a_change_to_the_sql_or_a_macro_it_calls_makes_the_kept_counts_stale(
    lake_root, sql_root, tmp_path
):
    prepared(lake_root, sql_root, D)
    edited = tmp_path / "sql"
    shutil.copytree(sql_root, edited)
    label = edited / "macros" / "is_delayed.sql"
    label.write_text(label.read_text().replace("> 15", "> 30"))  # the label's definition

    how, numbers, daily = prepared(lake_root, edited, D)
    assert how == trailing.Prepared("counted", 28)  # nothing kept was counted that way
    assert (numbers, daily) == counted_afresh(lake_root, edited, D)
    assert prepared(lake_root, edited, D)[0] == trailing.Prepared("kept", 0)
