"""Storage: the Parquet lake (the one partition writer), the SQL loader, the DuckDB views over the
lake (pipelines' connections and the analysts' warehouse), and the MLflow model registry.

Every stage reads and writes through here; nothing here knows a stage.
"""
