"""Sources of the nightly data behind one small interface.

A source hands over one table for one day as an Arrow table in the canonical schema
(``pipelines.sources.schemas``). Daily tables return that day's rows; reference tables return the
snapshot the source holds as of that day.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

if TYPE_CHECKING:
    from pipelines.settings import Settings


class SourceDataMissing(RuntimeError):
    """The source has not (yet) published the data asked for; a later retry may find it."""


class Source(Protocol):
    """What every source implements."""

    kind: str

    def extract(self, table: str, day: date) -> pa.Table:
        """One day of ``table`` (or its snapshot as of ``day``), conformed to the schema."""
        ...


def source_from_settings(settings: Settings) -> Source:
    """The source the environment configures (``NIGHTSHIFT_SOURCE_KIND``)."""
    if settings.source_kind == "postgres":
        from pipelines.sources.postgres import PostgresSource

        assert settings.source_dsn is not None  # enforced by Settings
        return PostgresSource(settings.source_dsn.get_secret_value())
    from pipelines.sources.files import FilesSource

    return FilesSource(settings.landing_root)
