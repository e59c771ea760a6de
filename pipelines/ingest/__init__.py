"""Stage ``ingest``: sources behind one interface, Great Expectations validation, and the two
steps of a day's intake: ``extract`` (source -> ``incoming``) and ``validate`` (``incoming`` ->
evidence in ``quality``, offending rows in ``quarantine``, the day in ``raw`` if nothing critical
failed)."""
