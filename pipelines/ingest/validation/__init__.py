"""Data validation with Great Expectations: checks, the suites per table, and the runner.

This package's ``__init__`` stays empty (Great Expectations takes seconds to import); only the
``expectations``, ``checks``, ``suites`` and ``runner`` modules import it (``context`` is plain
data, loaded by ``pipelines.ingest.validate``).
"""

import logging

# Importing Great Expectations logs about 200 INFO lines of its own API-docs registry ("Skipping
# registering function ...") into every validation task's log; they say nothing about the data.
logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
