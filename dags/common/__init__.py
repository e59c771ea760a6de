"""Definitions shared by the DAG files (assets, default arguments). No logic, no heavy imports."""
