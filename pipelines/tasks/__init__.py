"""Task adapters: one module per DAG, one function per task, the only Airflow-aware code of the
stage library (see ``pipelines/tasks/common.py``)."""
