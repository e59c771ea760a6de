"""The model registry through an explicit URI: champion alias, hand-over tags, version table."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.storage import registry

MODEL = "registry_test"


@pytest.fixture
def client(mlflow_store: str, tmp_path: Path):
    mlflow_client = registry.client(mlflow_store)
    mlflow_client.create_registered_model(MODEL)
    for _ in range(2):  # versions 1 and 2, no artifacts needed for the alias bookkeeping
        mlflow_client.create_model_version(MODEL, source=(tmp_path / "model").as_uri())
    return mlflow_client


def test_local_stores_are_told_from_servers() -> None:
    assert registry.is_local_store("sqlite:////tmp/mlflow.db")
    assert registry.is_local_store("file:///tmp/mlruns")
    assert not registry.is_local_store("http://mlflow:5000")


def test_no_champion_is_none_and_requiring_one_says_how_to_train(client) -> None:
    assert registry.get_champion(client, MODEL) is None
    with pytest.raises(registry.NoChampionError, match="trigger the flight_delay_training DAG"):
        registry.require_champion(client, MODEL)


def test_a_hand_over_moves_the_alias_and_tags_both_ends(client) -> None:
    registry.move_champion(client, MODEL, "1", "2013-02-01", previous=None)
    registry.move_champion(client, MODEL, "2", "2013-03-01", previous="1")
    assert str(registry.require_champion(client, MODEL).version) == "2"
    old = client.get_model_version(MODEL, "1").tags
    assert old[registry.TAG_CHAMPION_FROM] == "2013-02-01"
    assert old[registry.TAG_CHAMPION_UNTIL] == "2013-03-01"
    assert old[registry.TAG_SUPERSEDED_BY] == "2"
    # Which version held the alias on a data date follows the hand-overs.
    assert str(registry.champion_on(client, MODEL, "2013-02-15").version) == "1"
    assert str(registry.champion_on(client, MODEL, "2013-03-01").version) == "2"
    with pytest.raises(registry.NoChampionError, match="was champion on 2013-01-15"):
        registry.champion_on(client, MODEL, "2013-01-15")


def test_the_versions_table_lists_newest_first_with_the_alias(client) -> None:
    registry.move_champion(client, MODEL, "1", "2013-02-01", previous=None)
    rows = registry.versions_table(client, MODEL)
    assert [str(r[0]) for r in rows] == ["2", "1"]
    assert [r[1] for r in rows] == ["-", "champion"]
    assert len(rows[0]) == len(registry.VERSIONS_HEADER)
    assert registry.versions_table(client, "never_registered") == []


def test_an_experiment_of_a_local_store_keeps_its_artifacts_under_the_root(
    mlflow_store: str, tmp_path: Path
) -> None:
    mlflow_client = registry.client(mlflow_store)
    first = registry.ensure_experiment(mlflow_client, "exp", tmp_path / "artifacts")
    assert registry.ensure_experiment(mlflow_client, "exp", tmp_path / "artifacts") == first
    location = mlflow_client.get_experiment(first).artifact_location
    assert location == (tmp_path / "artifacts" / "exp").as_uri()


def test_the_versions_table_rounds_metrics_to_four_decimals(client) -> None:
    for key, value in {
        "promotion.challenger_roc_auc": "0.723456",
        "promotion.baseline_roc_auc": "0.650049",
        "promotion.champion_roc_auc": "none",
        "promotion.challenger_brier": "0.156789",  # truncating would show 0.1567
        "promotion.baseline_brier": "0.170050",
    }.items():
        client.set_model_version_tag(MODEL, "1", key, value)
    row = dict(
        zip(registry.VERSIONS_HEADER, registry.versions_table(client, MODEL)[1], strict=True)
    )
    assert (row["roc_auc"], row["baseline"], row["champion"]) == ("0.7235", "0.6500", "-")
    assert (row["brier"], row["base_brier"]) == ("0.1568", "0.1701")
    untagged = registry.versions_table(client, MODEL)[0]
    assert untagged[3] == "?"


def test_an_experiment_opens_in_the_classic_ml_view_with_its_description(
    mlflow_store: str, tmp_path: Path
) -> None:
    mlflow_client = registry.client(mlflow_store)
    # One created before the tags existed gains them; a new one has them from the start.
    old = mlflow_client.create_experiment("old")
    assert registry.ensure_experiment(mlflow_client, "old", None, "what it holds") == old
    for experiment_id in (old, registry.ensure_experiment(mlflow_client, "new", None, "holds")):
        tags = mlflow_client.get_experiment(experiment_id).tags
        assert tags[registry.TAG_EXPERIMENT_KIND] == registry.CLASSIC_ML_KIND
    assert mlflow_client.get_experiment(old).tags[registry.TAG_NOTE] == "what it holds"


def test_descriptions_of_the_model_and_a_version(client) -> None:
    registry.describe_model(client, MODEL, "what the model predicts")
    assert client.get_registered_model(MODEL).description == "what the model predicts"
    registry.describe_version(client, MODEL, "2", "x\n" * 4000, rest_at="see model_card.md")
    description = client.get_model_version(MODEL, "2").description
    assert len(description) <= registry.MAX_DESCRIPTION
    assert description.endswith("see model_card.md")


def test_ui_links_ask_for_the_classic_ml_view(client) -> None:
    assert registry.ui_links(client, "http://x", MODEL) == {
        "model": f"http://x/#/models/{MODEL}?workflowType=machine_learning"
    }
    experiment_id = registry.ensure_experiment(client, MODEL, None)
    links = registry.ui_links(client, "http://127.0.0.1:5000/", MODEL)
    assert links == {
        "runs": f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs?workflowType=machine_learning",
        "model": f"http://127.0.0.1:5000/#/models/{MODEL}?workflowType=machine_learning",
    }
