"""Where the API reads published predictions: the application's PostgreSQL table (production) or
the lake's ``scores.flight_delay_predictions`` (the embedded default). One interface, two stores.

A page is keyset-paginated on ``(carrier, flight_number, origin)`` within a day, so a page costs
the same however deep, and rows published meanwhile never repeat or vanish between pages.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pipelines import tables
from pipelines.serving import publish
from pipelines.storage import lake, snapshots

log = logging.getLogger(__name__)

FIELDS = (*publish.COLUMNS, "scored_at")
PageKey = tuple[str, int, str]  # (carrier, flight_number, origin): the order of a page


class StoreUnavailable(RuntimeError):
    """The store cannot be read right now (database down, lake unreadable)."""


@dataclass(frozen=True)
class Filters:
    day: date
    origin: str | None = None
    carrier: str | None = None
    min_probability: float | None = None


class PublishedPredictions(Protocol):
    name: str

    def flight(self, day: date, carrier: str, number: int, origin: str) -> dict | None: ...

    def page(self, filters: Filters, after: PageKey | None, limit: int) -> list[dict]: ...

    def ping(self) -> None: ...


class PostgresPredictions:
    """The application table ``<schema>.flight_delay_predictions``, over a few connections."""

    name = "postgres"

    def __init__(self, dsn: str, schema: str, connections: int = 4) -> None:
        self._dsn = dsn
        self._table = sql.Identifier(schema, publish.TABLE)
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue(connections)
        self._columns = sql.SQL(", ").join(map(sql.Identifier, FIELDS))

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = None
        try:
            if conn is None:
                # Short timeouts: an outage answers 503 at once instead of holding the request.
                conn = psycopg.connect(
                    self._dsn,
                    autocommit=True,
                    connect_timeout=3,
                    options="-c statement_timeout=5000",
                    row_factory=dict_row,  # type: ignore[arg-type]
                )
            yield conn
        except psycopg.OperationalError as exc:
            if conn is not None:
                conn.close()
            self._close_idle()  # they went down with it: the next request connects afresh
            # The DSN holds a password: the message names the store, never the DSN.
            log.warning("application database unreachable: %s", type(exc).__name__)
            raise StoreUnavailable("the application database is unreachable") from None
        else:
            try:
                self._idle.put_nowait(conn)
            except queue.Full:
                conn.close()

    def _close_idle(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def _rows(self, query: sql.Composed, params: list[Any]) -> list[dict]:
        with self._connection() as conn:
            try:
                return conn.execute(query, params).fetchall()  # type: ignore[return-value]
            except psycopg.errors.UndefinedTable:
                return []  # nothing published yet

    def flight(self, day: date, carrier: str, number: int, origin: str) -> dict | None:
        query = sql.SQL(
            "SELECT {} FROM {} WHERE flight_date = %s AND carrier = %s "
            "AND flight_number = %s AND origin = %s"
        ).format(self._columns, self._table)
        rows = self._rows(query, [day, carrier, number, origin])
        return rows[0] if rows else None

    def page(self, filters: Filters, after: PageKey | None, limit: int) -> list[dict]:
        where: list[sql.Composable] = [sql.SQL("flight_date = %s")]
        params: list[Any] = [filters.day]
        for column, value in (("origin", filters.origin), ("carrier", filters.carrier)):
            if value is not None:
                where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value)
        if filters.min_probability is not None:
            where.append(sql.SQL("probability >= %s"))
            params.append(filters.min_probability)
        if after is not None:
            where.append(sql.SQL("(carrier, flight_number, origin) > (%s, %s, %s)"))
            params.extend(after)
        query = sql.SQL(
            "SELECT {} FROM {} WHERE {} ORDER BY carrier, flight_number, origin LIMIT %s"
        ).format(self._columns, self._table, sql.SQL(" AND ").join(where))
        return self._rows(query, [*params, limit])

    def ping(self) -> None:
        with self._connection() as conn:
            conn.execute("SELECT 1")


class LakePredictions:
    """The lake's scored days, each read once per lake snapshot and held (a few days)."""

    name = "lake"

    def __init__(self, lake_root: Path, days_held: int = 4) -> None:
        self._root = lake_root
        self._held: OrderedDict[date, tuple[int | None, dict[PageKey, dict]]] = OrderedDict()
        self._days_held = days_held
        self._lock = threading.Lock()

    def _day(self, day: date) -> dict[PageKey, dict]:
        try:
            snapshot = snapshots.current_id(self._root)
            with self._lock:
                held = self._held.get(day)
                if held is not None and held[0] == snapshot:
                    self._held.move_to_end(day)
                    return held[1]
            rows = self._read(day, snapshot)
        except OSError as exc:
            log.warning("lake unreadable: %s", exc)
            raise StoreUnavailable("the lake cannot be read") from None
        with self._lock:
            self._held[day] = (snapshot, rows)
            while len(self._held) > self._days_held:
                self._held.popitem(last=False)
        return rows

    def _read(self, day: date, snapshot: int | None) -> dict[PageKey, dict]:
        path = lake.partition_file(self._root, *tables.PREDICTIONS.address, day, snapshot)
        if path is None:
            return {}
        scored_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        rows = lake.read_partition(self._root, *tables.PREDICTIONS.address, day, snapshot)
        found = {(r["carrier"], r["flight_number"], r["origin"]): r for r in rows.to_pylist()}
        for row in found.values():
            row["scored_at"] = scored_at
        return dict(sorted(found.items()))

    def flight(self, day: date, carrier: str, number: int, origin: str) -> dict | None:
        return self._day(day).get((carrier, number, origin))

    def page(self, filters: Filters, after: PageKey | None, limit: int) -> list[dict]:
        found = []
        for key, row in self._day(filters.day).items():
            if after is not None and key <= after:
                continue
            if filters.origin is not None and row["origin"] != filters.origin:
                continue
            if filters.carrier is not None and row["carrier"] != filters.carrier:
                continue
            if filters.min_probability is not None and row["probability"] < filters.min_probability:
                continue
            found.append(row)
            if len(found) == limit:
                break
        return found

    def ping(self) -> None:
        try:
            snapshots.current_id(self._root)
            if not self._root.is_dir():
                raise OSError(f"{self._root} is not a folder")
        except OSError as exc:
            log.warning("lake unreadable: %s", exc)
            raise StoreUnavailable("the lake cannot be read") from None
