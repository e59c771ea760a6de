"""features.flight_features on hand-built days: the numbers, and that nothing leaks from D on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import history, tables, trailing
from pipelines.dates import Interval
from pipelines.errors import MissingUpstreamPartition, PermanentError
from pipelines.features import build
from pipelines.features.build import build_flight_features
from pipelines.history import HistoryBlocked, HistoryNotPublished
from pipelines.ingest.sources.schemas import SCHEMAS
from pipelines.storage import lake
from pipelines.storage.sql import load_sql
from pipelines.storage.warehouse import lake_connection

D = date(2013, 3, 10)
HISTORY_START = D - timedelta(days=3)  # the fixture's lake begins three days before D
RUN = "test-run"
LABEL_AND_WEATHER_PROXY = ("label_", "wx_")


def flight(day: date, carrier: str, number: int, origin: str = "JFK", dest: str = "BOS", **kw):
    hour = kw.pop("hour", 8)
    row = {
        "year": day.year,
        "month": day.month,
        "day": day.day,
        "dep_time": 805,
        "sched_dep_time": hour * 100,
        "dep_delay": 5.0,
        "arr_time": 1010,
        "sched_arr_time": hour * 100 + 200,
        "arr_delay": 0.0,
        "carrier": carrier,
        "flight": number,
        "tailnum": "N1",
        "origin": origin,
        "dest": dest,
        "air_time": 50.0,
        "distance": 187.0,
        "hour": hour,
        "minute": 0,
        "time_hour": datetime(day.year, day.month, day.day, hour + 5, tzinfo=UTC),
    }
    row.update(kw)
    return row


def weather(day: date, origin: str, hour_utc: int, temp: float):
    row = dict.fromkeys(SCHEMAS["weather"].names)
    row.update(origin=origin, year=day.year, month=day.month, day=day.day, hour=hour_utc - 5)
    row.update(temp=temp, wind_speed=10.0, precip=0.0, visib=10.0, humid=50.0)
    row["time_hour"] = datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC)
    return row


def write(root, table: str, day: date, rows: list[dict]) -> None:
    data = pa.Table.from_pylist(rows, schema=SCHEMAS[table])
    lake.write_partition(root, "raw", table, day, data, RUN)


@pytest.fixture
def lake_root(tmp_path):
    """Three days before D and D itself.

    AA 1 JFK->BOS was late (arr_delay 30) on D-1 and D-2, on time on D-3.
    B6 2 LGA->MIA was always on time. On D, AA 1 is 45 min late, B6 2 on time.
    """
    root = tmp_path / "lake"
    for back, aa_delay in ((3, 0.0), (2, 30.0), (1, 30.0)):
        day = D - timedelta(days=back)
        write(
            root,
            "flights",
            day,
            [
                flight(day, "AA", 1, arr_delay=aa_delay),
                flight(day, "B6", 2, origin="LGA", dest="MIA", arr_delay=-3.0),
            ],
        )
        write(root, "weather", day, [weather(day, "JFK", 13, 40.0)])
    write(
        root,
        "flights",
        D,
        [
            flight(D, "AA", 1, arr_delay=45.0),
            flight(D, "B6", 2, origin="LGA", dest="MIA", arr_delay=-3.0),
            flight(D, "UA", 3, origin="EWR", dest="ORD", arr_delay=None, dep_time=None),
        ],
    )
    write(root, "weather", D, [weather(D, "JFK", 13, 55.0)])
    planes = pa.Table.from_pylist(
        [{"tailnum": "N1", "year": 2003, "engines": 2, "seats": 150}], schema=SCHEMAS["planes"]
    )
    for back in range(4):
        lake.write_partition(root, "raw", "planes", D - timedelta(days=back), planes, RUN)
    return root


def features_of(root, sql_root, day: date = D) -> list[dict]:
    build_flight_features(root, sql_root, Interval.day(day), RUN, HISTORY_START)
    rows = lake.read_partition(root, "features", "flight_features", day).to_pylist()
    return sorted(rows, key=lambda r: (r["carrier"], r["flight_number"]))


def test_one_row_per_scheduled_flight_with_its_label(lake_root, sql_root):
    rows = features_of(lake_root, sql_root)
    assert [(r["carrier"], r["flight_number"]) for r in rows] == [("AA", 1), ("B6", 2), ("UA", 3)]
    assert [r["label_is_delayed"] for r in rows] == [True, False, None]  # UA 3 was cancelled
    assert rows[0]["label_arr_delay_minutes"] == 45.0
    assert all(r["pipeline_run_id"] == RUN for r in rows)


def test_trailing_rates_use_only_the_days_before(lake_root, sql_root):
    aa, b6, ua = features_of(lake_root, sql_root)
    # Prior: 2 of 6 earlier flights were late; weight 20 flights.
    prior = 2 / 6
    assert aa["all_flights_delay_rate_28d"] == pytest.approx(prior)
    assert aa["route_delay_rate_28d"] == pytest.approx((2 + prior * 20) / (3 + 20))
    assert b6["route_delay_rate_28d"] == pytest.approx((0 + prior * 20) / (3 + 20))
    assert aa["route_flights_28d"] == 3
    # Yesterday at JFK: the one flight was late.
    assert aa["origin_delay_rate_1d"] == pytest.approx((1 + prior * 20) / (1 + 20))
    assert aa["origin_mean_dep_delay_1d"] == pytest.approx(5.0)
    # A route never seen before gets exactly the prior, not 0% or 100%.
    assert ua["route_delay_rate_28d"] == pytest.approx(prior)
    assert ua["route_flights_28d"] == 0


def test_schedule_plane_and_weather_attributes(lake_root, sql_root):
    aa, _, ua = features_of(lake_root, sql_root)
    assert aa["sched_dep_hour"] == 8
    assert aa["sched_block_minutes"] == 120
    assert aa["weekday"] == D.isoweekday()
    assert aa["plane_age_years"] == 2013 - 2003
    assert aa["wx_temp_f"] == 55.0  # JFK at 13:00 UTC on D: the forecast stand-in
    assert ua["wx_temp_f"] is None  # no EWR observation


def test_leak_free_changing_day_d_outcomes_or_later_days_changes_only_label_and_weather(
    lake_root, sql_root
):
    before = features_of(lake_root, sql_root)

    # Everything that happened on D (actual times, delays, weather) and everything of D+1.
    write(
        lake_root,
        "flights",
        D,
        [
            flight(D, "AA", 1, arr_delay=-20.0, dep_delay=-5.0, dep_time=755, arr_time=950),
            flight(D, "B6", 2, origin="LGA", dest="MIA", arr_delay=300.0, dep_delay=290.0),
            flight(D, "UA", 3, origin="EWR", dest="ORD", arr_delay=10.0),
        ],
    )
    write(lake_root, "weather", D, [weather(D, "JFK", 13, -10.0), weather(D, "EWR", 13, 0.0)])
    after_day = D + timedelta(days=1)
    write(lake_root, "flights", after_day, [flight(after_day, "AA", 1, arr_delay=500.0)])
    write(lake_root, "weather", after_day, [weather(after_day, "JFK", 13, 99.0)])
    after = features_of(lake_root, sql_root)

    def leak_checked(row):
        return {
            k: v
            for k, v in row.items()
            if not k.startswith(LABEL_AND_WEATHER_PROXY) and k != "pipeline_run_id"
        }

    assert [leak_checked(r) for r in after] == [leak_checked(r) for r in before]
    assert [r["label_is_delayed"] for r in after] == [False, True, False]  # the label did change


def test_history_changes_do_change_the_features(lake_root, sql_root):
    # The converse of leak-freedom: the features really do read the days before.
    before = features_of(lake_root, sql_root)
    day = D - timedelta(days=1)
    write(lake_root, "flights", day, [flight(day, "AA", 1, arr_delay=-30.0)])
    after = features_of(lake_root, sql_root)
    assert after[0]["origin_delay_rate_1d"] < before[0]["origin_delay_rate_1d"]


def test_a_rerun_replaces_the_partition(lake_root, sql_root):
    features_of(lake_root, sql_root)
    features_of(lake_root, sql_root)
    files = lake.table_files(lake_root, "features", "flight_features")
    count = duckdb.execute("select count(*) from read_parquet($f)", {"f": files}).fetchone()[0]
    assert count == 3


def test_a_day_without_published_flights_is_refused(lake_root, sql_root):
    with pytest.raises(MissingUpstreamPartition, match="2013-03-12"):
        build_flight_features(
            lake_root, sql_root, Interval.of(D, date(2013, 3, 13)), RUN, HISTORY_START
        )


def _planes(year: int) -> pa.Table:
    return pa.Table.from_pylist(
        [{"tailnum": "N1", "year": year, "engines": 2, "seats": 150}], schema=SCHEMAS["planes"]
    )


def test_features_read_only_the_days_they_need_and_equal_those_of_the_whole_lake(
    lake_root, sql_root
):
    # Flights far before and after D, and planes delivered only long before D and the day after:
    # the window [D-28, D+2) leaves out all but the snapshot in force on D and the later one.
    for day in (D - timedelta(days=40), D + timedelta(days=3)):
        write(lake_root, "flights", day, [flight(day, "AA", 1, arr_delay=300.0)])
    for back in range(4):
        lake.delete_partition(lake_root, "raw", "planes", D - timedelta(days=back))
    lake.write_partition(lake_root, "raw", "planes", D - timedelta(days=45), _planes(2003), RUN)
    lake.write_partition(lake_root, "raw", "planes", D + timedelta(days=1), _planes(1990), RUN)

    build_flight_features(lake_root, sql_root, Interval.day(D), RUN, HISTORY_START)
    built = lake.read_partition(lake_root, "features", "flight_features", D)
    # The reference counts its history afresh from every raw file: what the build kept goes.
    for table in (tables.FLIGHT_NUMBER_28D, tables.ROUTE_HOUR_DAILY):
        for day in lake.list_partitions(lake_root, *table.address):
            lake.delete_partition(lake_root, *table.address, day)
    query = load_sql(sql_root, "features", "flight_features")
    with lake_connection(lake_root, sql_root) as con:  # every file of every table
        trailing.prepare(con, lake_root, sql_root, Interval.day(D), run_id=None)
        whole = con.sql(
            "select * from (" + query + ") order by carrier, flight_number, origin",
            params={"start": D, "end": D + timedelta(days=1)},
        ).to_arrow_table()
    gaps = history.gaps(lake_root, [D], HISTORY_START)[D]

    built = built.sort_by([(k, "ascending") for k in ("carrier", "flight_number", "origin")])
    assert built.drop_columns([lake.RUN_ID_COLUMN]).equals(history.stamp(whole, gaps))
    assert built.column("plane_age_years").to_pylist()[0] == 2013 - 2003


def test_a_day_streams_into_its_partition_a_batch_at_a_time(lake_root, sql_root, monkeypatch):
    at_once = features_of(lake_root, sql_root)
    monkeypatch.setattr(build, "BATCH_ROWS", 1)
    one_by_one = features_of(lake_root, sql_root)

    assert one_by_one == at_once
    path = lake.partition_file(lake_root, "features", "flight_features", D)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3  # one per batch of one flight


# --- features know their gaps -------------------------------------------------------------------


def test_a_complete_history_is_stamped_with_no_missing_days(lake_root, sql_root):
    rows = features_of(lake_root, sql_root)
    assert {r["history_missing_days"] for r in rows} == {0}


def test_a_day_missing_from_the_window_is_refused_naming_it(lake_root, sql_root):
    lake.delete_partition(lake_root, "raw", "flights", D - timedelta(days=2))
    with pytest.raises(HistoryNotPublished, match=r"2013-03-08 \(not published\)") as caught:
        features_of(lake_root, sql_root)
    assert "allow_incomplete_history" in str(caught.value)
    assert not lake.has_partition(lake_root, "features", "flight_features", D)


def test_a_blocked_day_in_the_window_fails_without_retry(lake_root, sql_root):
    failed = pa.table(
        {"check_name": ["schema.columns"], "severity": ["critical"], "success": [False]}
    )
    lake.write_partition(
        lake_root, "quality", "validation_results", D - timedelta(days=1), failed, RUN
    )
    with pytest.raises(HistoryBlocked, match=r"2013-03-09 \(blocked by validation\)"):
        features_of(lake_root, sql_root)
    assert issubclass(HistoryBlocked, PermanentError)
    assert not issubclass(HistoryNotPublished, PermanentError)


def test_the_override_builds_anyway_and_stamps_how_many_days_were_missing(lake_root, sql_root):
    lake.delete_partition(lake_root, "raw", "flights", D - timedelta(days=2))
    build_flight_features(
        lake_root, sql_root, Interval.day(D), RUN, HISTORY_START, allow_incomplete_history=True
    )
    rows = lake.read_partition(lake_root, "features", "flight_features", D).to_pylist()
    assert rows and {r["history_missing_days"] for r in rows} == {1}


def test_days_before_the_history_start_are_not_gaps(lake_root, sql_root):
    # The lake begins three days before D: a window reaching further back is complete.
    assert history.gaps(lake_root, [D], HISTORY_START)[D].count == 0
    assert history.gaps(lake_root, [D], D - timedelta(days=10))[D].missing == tuple(
        D - timedelta(days=back) for back in range(10, 3, -1)
    )


# --- set-based: an interval in one pass equals its days built alone ----------------------------


def _partitions(root, days) -> list[pa.Table]:
    """The days' partitions, rows in key order (a partition keeps DuckDB's order)."""
    key = [(k, "ascending") for k in ("carrier", "flight_number", "origin")]
    return [
        lake.read_partition(root, "features", "flight_features", d)
        .drop_columns([lake.RUN_ID_COLUMN])
        .sort_by(key)
        for d in days
    ]


def test_an_interval_in_one_pass_equals_its_days_built_one_by_one(lake_root, sql_root, monkeypatch):
    span = Interval(D - timedelta(days=2), D + timedelta(days=1))
    days = list(span.days())
    assert build.passes(lake_root, days) == [days]  # a few small days: one pass
    build_flight_features(lake_root, sql_root, span, RUN, HISTORY_START)
    together = _partitions(lake_root, days)
    for day in days:
        build_flight_features(lake_root, sql_root, Interval.day(day), RUN, HISTORY_START)
    assert _partitions(lake_root, days) == together
    monkeypatch.setattr(build, "PASS_FLIGHTS", 1)  # every day a pass of its own
    assert build.passes(lake_root, days) == [[d] for d in days]
    build_flight_features(lake_root, sql_root, span, RUN, HISTORY_START)
    assert _partitions(lake_root, days) == together
    assert all(t.num_rows for t in together)


def test_a_run_of_large_days_moves_the_kept_counts_from_one_day_to_the_next(
    lake_root, sql_root, monkeypatch
):
    span = Interval(D - timedelta(days=2), D + timedelta(days=1))
    days = list(span.days())
    monkeypatch.setattr(build, "PASS_FLIGHTS", 1)  # every day a pass of its own
    built = build_flight_features(lake_root, sql_root, span, RUN, HISTORY_START)
    # Each pass sees what the one before kept, and moves it a day.
    assert list(built.history_counts.values()) == ["counted", "moved", "moved"]
    alone = _partitions(lake_root, days)
    monkeypatch.setattr(build, "PASS_FLIGHTS", 4)  # two days in one pass, then the third alone
    assert build.passes(lake_root, days) == [days[:2], days[2:]]
    mixed = build_flight_features(lake_root, sql_root, span, RUN, HISTORY_START)
    assert list(mixed.history_counts.values()) == ["set-based", "set-based", "kept"]
    assert _partitions(lake_root, days) == alone
