"""Stage ``features``: ``features.flight_features``, one partition per day, from the DuckDB SQL
in ``sql/features``."""
