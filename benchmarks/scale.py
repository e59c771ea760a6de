"""Scale generator: the real 2013 data at N times as many flights a day, for the same code path.

    .venv/bin/python benchmarks/scale.py --scale 1000 --day 2013-06-03 --landing DIR \\
        [--lake DIR --history-days 28] [--postgres DSN]

For day D it writes what the nightly path reads, N copies of every real flight:

* **Landing files** (``--landing``), named and written as ``files.generate_landing`` writes them,
  so ``FilesSource`` reads them unchanged: flights and weather of D; the next-day feeds of D
  (``schedule``, ``weather_forecast``: what scoring D reads); planes, airports and airlines
  snapshots dated D. The two large tables are streamed through one CSV writer batch by batch.
* **Trailing history** (``--lake``): the features of D read the outcomes and weather of the 28 days
  before it. Landing files for 28 days at 10 million flights a day would take longer to extract and
  validate than the benchmark itself, so the generator writes those days straight into the lake's
  ``raw`` layer (``raw.flights``, ``raw.weather`` for D-h .. D-1, and the reference snapshots dated
  D-h, the newest one the features of every later day pick), through the lake's transactions,
  stamped ``scale-generator``, in the canonical columns validation publishes. The rows are the
  sample's, not validated (the sample's few impossible values would be quarantined by the real
  path). With ``--history-days 0`` nothing goes to the lake: generate earlier days as landing files
  instead and run them through the real stages (sensible at small scales).
* **PostgreSQL** (``--postgres DSN``): the same days (D-h .. D) in the source database, laid out
  as ``load_nycflights13`` lays out the sample (its DDL, COPY of pyarrow-written CSV, one
  transaction), so ``PostgresSource`` extracts them unchanged. Up to 100x for the 29 days of a
  night: beyond, the load alone takes longer than the stages it would feed. With fewer
  ``--history-days`` a larger N loads (``--scale 1000 --history-days 0``: the day alone, about
  a million flights, to time extract from the database with ``benchmarks.stages extract
  --source-dsn``).

How copy k of a flight is made (deterministic: no randomness, a pure function of the sample):

* Copy 0 is the real flight. Every copy keeps its original's schedule, delays, route, distance and
  therefore its weather, so every distribution but the keys' is the real one.
* **Carriers.** The validation suites want ``carrier`` to be two characters of ``[A-Z0-9]`` and a
  key of ``airlines``, and (carrier, flight, origin) unique per day; flight numbers stop at 9,999.
  Copy k of carrier c gets a synthetic code chosen from (c, k) alone: each code holds a block of
  copies of one real carrier only, so a synthetic carrier's delay rates are a real carrier's. The
  airlines snapshot lists the real carriers and every code in use (10,000x uses 953 of the 1,280).
* **Flight numbers.** 16 carriers x 10,000 copies do not fit in 1,280 codes with the real flight
  numbers, so copies are packed: the flights of a carrier and origin that never fly on the same day
  share a slot (``scale_keys.flight_slots``; UA needs 258 slots for its 1,285 numbers), and copy k
  flies slot s as number ``(k - 1) % per_code * slots + s + 1`` of its code. The mapping is the
  same on every day, so a copy's history in the trailing 28 days is its original's.
* **Tails** are suffixed per copy (``N14228-7``) and the planes snapshot holds every real plane once
  per suffix, so ``tail_leg_of_day`` and the plane features stay real. The planes suite caps a
  snapshot at 1,000,000 rows (301 copies of the 3,322 planes): above 301x, copy k flies the tails of
  copy k % 301, so each aircraft flies the legs of several copies (``tail_leg_of_day`` grows) but
  every flight keeps a plane the reference table knows, and the tails-in-planes warning holds.
* **Weather and airports** are not scaled: weather is one row per airport and hour, and copies fly
  from the same three airports to the same destinations.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

if not __package__:  # run as a script (benchmarks/scale.py): the repository root is not on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scale_keys import CopyKeys
from pipelines import tables, trailing
from pipelines.dates import Interval
from pipelines.history import HISTORY_DAYS, lake_days
from pipelines.ingest.sources.files import _write_csv, landing_file
from pipelines.ingest.sources.nycflights import FIRST_DAY, LAST_DAY, day_of
from pipelines.ingest.sources.postgres import _DDL, _FOREIGN_KEYS
from pipelines.ingest.sources.schemas import SCHEMAS
from pipelines.settings import REPO_ROOT, Settings
from pipelines.storage import lake
from pipelines.storage.warehouse import lake_connection

RUN_ID = "scale-generator"
SQL_ROOT = REPO_ROOT / "sql"
POSTGRES_MAX_SCALE = 100
POSTGRES_SCHEMA = "oltp"  # PostgresSource's default


def reference_tables(keys: CopyKeys, day: date) -> dict[str, pa.Table]:
    """The planes, airports and airlines snapshots the copies need."""
    return {
        "planes": keys.planes(),
        "airports": day_of("airports", day),
        "airlines": keys.airlines(),
    }


def day_batches(keys: CopyKeys, day: date) -> Iterator[pa.RecordBatch]:
    """The flights of ``day`` at ``keys.scale``, in the canonical schema, batch by batch."""
    return keys.copy_batches(day_of("flights", day))


@contextlib.contextmanager
def _streamed_csv(path: Path, schema: pa.Schema) -> Iterator[pacsv.CSVWriter]:
    """A landing file written batch by batch: pyarrow's CSV writer with the options
    ``files._write_csv`` uses (its defaults), under a temporary name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with pacsv.CSVWriter(tmp, schema) as writer:
        yield writer
    tmp.replace(path)


def write_landing(landing_root: Path, day: date, keys: CopyKeys) -> dict[str, int]:
    """Landing files of ``day``: actuals, next-day feeds and reference snapshots; rows per file."""
    written = {"flights": 0, "schedule": 0}
    flights = landing_file(landing_root, "flights", day)
    schedule = landing_file(landing_root, "schedule", day)
    with (
        _streamed_csv(flights, SCHEMAS["flights"]) as actual,
        _streamed_csv(schedule, SCHEMAS["schedule"]) as planned,
    ):
        for batch in day_batches(keys, day):
            actual.write_batch(batch)
            planned.write_batch(batch.select(SCHEMAS["schedule"].names))
            written["flights"] += batch.num_rows
            written["schedule"] += batch.num_rows
    small = {t: day_of(t, day) for t in ("weather", "weather_forecast")}
    for table, data in {**small, **reference_tables(keys, day)}.items():
        _write_csv(data, landing_file(landing_root, table, day))
        written[table] = data.num_rows
    return written


def write_history(lake_root: Path, day: date, keys: CopyKeys, history_days: int) -> dict[str, int]:
    """``raw`` partitions of the ``history_days`` days before ``day``; rows written per table."""
    first = day - timedelta(days=history_days)
    written: dict[str, int] = {}
    if history_days <= 0:
        return written
    with lake.transaction(lake_root, RUN_ID) as tx:
        for table, data in reference_tables(keys, first).items():
            written[table] = tx.write(*tables.raw(table).address, first, data).rows
    for past in Interval(first, day).days():
        # One commit a day, as validation publishes them: a kill leaves whole days behind.
        with lake.transaction(lake_root, RUN_ID) as tx:
            flights = tx.write_batches(
                *tables.raw("flights").address, past, SCHEMAS["flights"], day_batches(keys, past)
            )
            weather = tx.write(*tables.raw("weather").address, past, day_of("weather", past))
        written["flights"] = written.get("flights", 0) + flights.rows
        written["weather"] = written.get("weather", 0) + weather.rows
    return written


def write_trailing_counts(lake_root: Path, day: date) -> dict[str, object]:
    """What the nights before ``day`` left in the lake: the trailing counts of ``day - 1``
    (:mod:`pipelines.trailing`), counted from the history as a first night would. The stages of
    ``day`` then do one night's counting (the counts moved a day), as a nightly run does."""
    before = Interval.day(day - timedelta(days=1))
    started = time.perf_counter()
    settings = Settings()
    with lake_connection(
        lake_root, SQL_ROOT, days=lake_days(before), resources=settings.duckdb_resources()
    ) as con:
        found = trailing.prepare(con, lake_root, SQL_ROOT, before, RUN_ID)
    seconds = round(time.perf_counter() - started, 2)
    return {"day": str(before.start), "flight_numbers": found.flight_numbers, "seconds": seconds}


def forget_the_night(lake_root: Path, day: date) -> None:
    """Withdraw what an earlier benchmark run of ``day`` counted (the trailing counts of ``day``
    and the day before's counts per route and hour), so a rerun on a reused lake counts the
    night's worth again, as the first did."""
    lake.delete_partition(lake_root, *tables.FLIGHT_NUMBER_28D.address, day)
    lake.delete_partition(lake_root, *tables.ROUTE_HOUR_DAILY.address, day - timedelta(days=1))


def load_postgres(dsn: str, days: Interval, keys: CopyKeys) -> dict[str, int]:
    """(Re)create the source schema holding ``days`` at ``keys.scale``; rows loaded per table."""
    import psycopg
    from psycopg import sql

    sources: dict[str, Iterable[pa.RecordBatch]] = {
        **{t: data.to_batches() for t, data in reference_tables(keys, days.start).items()},
        "weather": (b for d in days.days() for b in day_of("weather", d).to_batches()),
        "flights": (b for d in days.days() for b in day_batches(keys, d)),
    }
    schema = sql.Identifier(POSTGRES_SCHEMA)
    loaded: dict[str, int] = {}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:  # one transaction, committed on exit
        cur.execute(sql.SQL(_DDL).format(schema=schema))
        for table in ("airlines", "airports", "planes", "weather", "flights"):
            columns = sql.SQL(", ").join(map(sql.Identifier, SCHEMAS[table].names))
            copy_sql = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv)")
            loaded[table] = 0
            with cur.copy(copy_sql.format(schema, sql.Identifier(table), columns)) as copy:
                for batch in sources[table]:
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                    copy.write(buffer.getbuffer())
                    loaded[table] += batch.num_rows
        cur.execute(sql.SQL(_FOREIGN_KEYS).format(schema=schema))
    return loaded


def check_days(day: date, history_days: int) -> None:
    first = day - timedelta(days=history_days)
    # The sample's hourly weather stops on the evening of 2013-12-30 (validation blocks the 31st).
    if first < FIRST_DAY or day >= LAST_DAY:
        raise SystemExit(
            f"--day {day} with --history-days {history_days} needs {first}..{day}: the sample "
            f"covers {FIRST_DAY}..{LAST_DAY - timedelta(days=1)} (with weather); pick a later day "
            "or fewer history days"
        )


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, required=True, help="copies of every real flight")
    parser.add_argument("--day", type=date.fromisoformat, default=date(2013, 6, 3))
    parser.add_argument("--landing", type=Path, required=True, help="landing zone to write into")
    parser.add_argument("--lake", type=Path, help="lake whose raw layer gets the history days")
    parser.add_argument("--history-days", type=int, default=HISTORY_DAYS)
    parser.add_argument(
        "--postgres",
        metavar="DSN",
        help=f"also load it ({POSTGRES_MAX_SCALE}x at most for {HISTORY_DAYS + 1} days)",
    )
    args = parser.parse_args(argv)
    history_days = args.history_days if args.lake else 0
    check_days(args.day, args.history_days if args.lake or args.postgres else 0)
    copy_days = args.scale * (args.history_days + 1)
    if args.postgres and copy_days > POSTGRES_MAX_SCALE * (HISTORY_DAYS + 1):
        parser.error(
            f"--postgres loads at most {POSTGRES_MAX_SCALE}x the {HISTORY_DAYS + 1} days of a "
            f"night (COPY takes long): {args.scale}x of {args.history_days + 1} days is more "
            "(fewer --history-days, down to 0, allow a larger --scale)"
        )
    keys = CopyKeys.for_scale(args.scale)
    started = time.perf_counter()
    report: dict[str, object] = {"scale": args.scale, "day": str(args.day)}
    report["landing"] = write_landing(args.landing, args.day, keys)
    if history_days:
        report["history"] = write_history(args.lake, args.day, keys, history_days)
        report["trailing"] = write_trailing_counts(args.lake, args.day)
    if args.postgres:
        first = args.day - timedelta(days=args.history_days)
        days = Interval(first, args.day + timedelta(days=1))
        report["postgres"] = load_postgres(args.postgres, days, keys)
    report["seconds"] = round(time.perf_counter() - started, 2)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
