"""Registers the DAGs' timetable with Airflow.

Airflow deserializes a DAG whose timetable is not one of its own only when a plugin registers the
class, in every process that reads DAGs (scheduler, API server, DAG processor, workers). The
class lives in ``pipelines/tasks/timetable.py``, beside the code it schedules.
"""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from pipelines.tasks.timetable import WindowedCronTimetable


class NightshiftPlugin(AirflowPlugin):
    name = "nightshift"
    timetables: ClassVar[list[type]] = [WindowedCronTimetable]
