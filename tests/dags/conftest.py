"""Fixtures of the DAG tests: the DAGs parsed the way the DAG processor parses them."""

from __future__ import annotations

import pytest
from airflow.dag_processing.dagbag import BundleDagBag

from tests.fixtures.dags import DAGS_DIR


@pytest.fixture(scope="module")
def dagbag() -> BundleDagBag:
    folder = str(DAGS_DIR)
    return BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")


@pytest.fixture(scope="module")
def dags(dagbag: BundleDagBag) -> dict:
    assert dagbag.dags, f"no DAGs parsed from {DAGS_DIR}"
    return dagbag.dags
