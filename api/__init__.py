"""The predictions API and on-demand model service: ``nightshift serve --host H --port P``.

An application beside ``dags/`` that reaches the stage library only through its public functions:
published risk of a flight (the application's PostgreSQL table in production, the lake's
``scores.flight_delay_predictions`` on the embedded default), and on-demand scoring of a flight
the batch did not see, by the champion and the batch's own feature SQL
(:class:`pipelines.serving.scoring.AsOfDay`). The contract is ``api/openapi.json``.
"""
