"""Nightshift stage library: pure functions over explicit paths, intervals and settings.

Layers, each importing only the ones below it:

- ``tasks/`` (one adapter per DAG, the only Airflow-aware code) and ``ops/`` (the CLI, reports,
  the embedded Airflow runner) call the stages;
- the stages ``ingest``, ``features``, ``training``, ``serving``, ``monitoring`` never import each
  other;
- ``storage/`` (lake, SQL, warehouse views, model registry) and the foundation modules
  (``settings``, ``dates``, ``errors``, ``tables``, ``evaluation``, ``drift``) serve them all.

``tests/test_layering.py`` enforces this.
"""
