"""Nightshift stage library: pure functions over explicit paths, intervals and settings.

Nothing here imports Airflow; the DAGs in ``dags/`` call one function of this package per task.
"""
