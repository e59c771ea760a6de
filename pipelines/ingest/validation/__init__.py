"""Data validation with Great Expectations: checks, the suites per table, and the runner.

This package's ``__init__`` stays empty (Great Expectations takes seconds to import); only the
``expectations``, ``checks``, ``suites`` and ``runner`` modules import it (``context`` is plain
data, loaded by ``pipelines.ingest.validate``).
"""
