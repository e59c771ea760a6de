"""The registry of lake tables: one name, layer and key per table, used by every consumer."""

from __future__ import annotations

import re

import pytest

from pipelines import tables
from pipelines.storage import lake

NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def test_every_registered_table_has_a_known_layer_a_valid_name_and_a_key() -> None:
    for table in tables.published():
        assert table.layer in tables.LAYERS + tables.VIEW_LAYERS, table
        assert NAME.match(table.name), table
        assert table.key, f"{table} has no key"
        assert table.qualified == f"{table.layer}.{table.name}" == str(table)
        assert table.address == (table.layer, table.name)


def test_published_tables_are_unique_and_exclude_the_unvalidated_layer() -> None:
    names = [t.qualified for t in tables.published()]
    assert len(names) == len(set(names))
    assert not [n for n in names if n.startswith("incoming.")]


def test_source_tables_exist_in_every_intake_layer_with_the_same_key() -> None:
    for name in tables.SOURCE_TABLES + tables.NEXT_DAY_TABLES:
        keys = {t.key for t in (tables.incoming(name), tables.raw(name), tables.quarantine(name))}
        assert len(keys) == 1, name
    assert set(tables.DATED_TABLES) == set(tables.DAILY_TABLES) | set(tables.NEXT_DAY_TABLES)


def test_an_unknown_table_is_refused_naming_the_known_ones() -> None:
    assert tables.by_name("scores.flight_delay_predictions") is tables.PREDICTIONS
    with pytest.raises(KeyError, match=r"known: raw\.flights"):
        tables.by_name("raw.passengers")
    with pytest.raises(KeyError):
        tables.raw("passengers")


def test_the_lake_accepts_exactly_the_registered_layers(tmp_path) -> None:
    assert lake.table_dir(tmp_path, *tables.FLIGHT_FEATURES.address) == (
        tmp_path / "features" / "flight_features"
    )
    with pytest.raises(lake.LakeError, match="unknown lake layer"):
        lake.table_dir(tmp_path, "bronze", "flights")


def test_the_registered_views_are_exactly_the_sql_files_of_their_layer(sql_root) -> None:
    from pipelines.storage.sql import layer_models

    for layer, registered in (("staging", tables.STAGING), ("marts", tables.MARTS)):
        assert sorted(t.name for t in registered) == sorted(layer_models(sql_root, layer)), layer
    published = tables.published()
    assert {t.qualified for t in published} >= {
        f"quarantine.{name}" for name in tables.SOURCE_TABLES + tables.NEXT_DAY_TABLES
    }
