"""Sources of the nightly data behind one small interface.

A source hands over one table for one day as an Arrow table in the canonical schema
(``pipelines.ingest.sources.schemas``). Daily tables return that day's rows; reference tables
return the snapshot the source holds as of that day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.ingest.sources.base import Source
    from pipelines.settings import Settings


def source_from_settings(settings: Settings) -> Source:
    """The source the environment configures (``NIGHTSHIFT_SOURCE_KIND``)."""
    if settings.source_kind == "postgres":
        from pipelines.ingest.sources.postgres import PostgresSource

        assert settings.source_dsn is not None  # enforced by Settings
        return PostgresSource(settings.source_dsn.get_secret_value())
    from pipelines.ingest.sources.files import FilesSource

    return FilesSource(settings.landing_root)
