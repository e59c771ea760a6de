"""The model card: what a reviewer reads on a version's MLflow page, rendered from plain data."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.storage import registry
from pipelines.training import model_card
from pipelines.training.model_card import render_model_card, top_features

METRICS = {
    "roc_auc": 0.71234,
    "pr_auc": 0.45,
    "brier": 0.15678,
    "log_loss": 0.48,
    "rows": 1050,
    "positive_rate": 0.22,
    "mean_prediction": 0.21,
}
BASELINE = {**METRICS, "roc_auc": 0.65, "brier": 0.17, "mean_prediction": 0.2}
CHAMPION = {**METRICS, "roc_auc": 0.70, "brier": 0.158}


def training(**changes: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "model_name": "flight_delay",
        "as_of": "2013-03-01",
        "holdout": ["2013-02-15", "2013-03-01"],
        "params": {"learning_rate": 0.05, "max_iter": 300},
        "metrics": METRICS,
        "baseline": BASELINE,
        "mlflow_run_id": "abc123",
        "pipeline_run_id": "manual__2013-03-01",
        "params_source": "params.json",
        "split": {
            "window": "[2013-01-01, 2013-03-01)",
            "fit": "[2013-01-01, 2013-02-15)",
            "search_train": "[2013-01-01, 2013-02-01)",
            "validation": "[2013-02-01, 2013-02-15)",
            "holdout": "[2013-02-15, 2013-03-01)",
        },
        "data": {
            "table": "features.flight_features",
            "partitions": 58,
            "first_day": "2013-01-01",
            "last_day": "2013-02-28",
            "missing_days": ["2013-01-05"],
            "fit_days": 44,
            "fit_rows": 38000,
            "holdout_days": 14,
            "holdout_rows": 12345,
        },
        "calibration": [
            {
                "bin_low": 0.0,
                "bin_high": 0.1,
                "rows": 500,
                "mean_prediction": 0.06,
                "observed_rate": 0.05,
            },
            {
                "bin_low": 0.3,
                "bin_high": 0.4,
                "rows": 80,
                "mean_prediction": 0.35,
                "observed_rate": 0.5,
            },
        ],
        "top_features": [["origin_delay_rate_1d", 0.0412], ["carrier", 0.0101]],
    }
    return {**summary, **changes}


def promotion(decision: str = "promoted", champion: dict | None = CHAMPION) -> dict[str, Any]:
    return {
        "decision": decision,
        "reason": "beats the champion by ROC-AUC +0.0123 (margin 0.002) and the baseline",
        "champion_before": None if champion is None else "2",
        "champion_after": "3" if decision == "promoted" else "2",
        "challenger": METRICS,
        "champion": champion,
        "baseline": BASELINE,
        "margin": 0.002,
        "holdout": "[2013-02-15, 2013-03-01)",
    }


def row(card: str, first_cell: str) -> list[str]:
    """The cells of the table row of ``card`` that starts with ``first_cell``."""
    [line] = [ln for ln in card.splitlines() if ln.startswith(f"| {first_cell}")]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_promoted_card_states_the_decision_its_reason_and_the_three_models() -> None:
    card = render_model_card(training(), "3", promotion())
    assert card.splitlines()[0] == "# flight_delay version 3: promoted"
    assert "**Promoted**: beats the champion by ROC-AUC +0.0123" in card
    assert "champion it faced: version 2; champion now: version 3" in card
    assert "promotion margin (ROC-AUC): 0.002" in card
    # Rounded, not truncated: 0.71234 -> 0.7123, 0.15678 -> 0.1568.
    assert row(card, "ROC-AUC")[1:] == ["0.7123", "0.6500", "0.7000"]
    assert row(card, "Brier")[1:] == ["0.1568", "0.1700", "0.1580"]
    assert (
        "| metric | this version | baseline (route_delay_rate_28d) | champion (version 2) |" in card
    )


def test_the_card_shows_the_data_window_and_partitions() -> None:
    card = render_model_card(training(), "3", promotion())
    assert row(card, "fit (training)") == [
        "fit (training)",
        "44",
        "38,000",
        "[2013-01-01, 2013-02-15)",
    ]
    assert row(card, "holdout") == [
        "holdout (judged on)",
        "14",
        "12,345",
        "[2013-02-15, 2013-03-01)",
    ]
    assert "58 daily partitions, 2013-01-01 to 2013-02-28; missing days: 2013-01-05" in card
    assert "`data/partitions.json`" in card


def test_the_card_shows_calibration_and_top_features() -> None:
    card = render_model_card(training(), "3", promotion())
    assert row(card, "0.3 to 0.4") == ["0.3 to 0.4", "80", "0.350", "0.500"]
    assert (
        "Largest gap: +0.150 (observed minus predicted) in the 0.3 to 0.4 bin, 80 flights" in card
    )
    assert row(card, "1") == ["1", "`origin_delay_rate_1d`", "0.0412"]
    assert row(card, "2") == ["2", "`carrier`", "0.0101"]


def test_before_the_decision_the_card_says_it_is_pending() -> None:
    card = render_model_card(training(), "3")
    assert card.splitlines()[0] == "# flight_delay version 3: decision pending"
    assert "`evaluate_and_promote`" in card
    assert row(card, "ROC-AUC")[1:] == ["0.7123", "0.6500", "not compared yet"]


def test_with_no_champion_yet_the_champion_column_is_empty() -> None:
    card = render_model_card(training(), "1", promotion(champion=None))
    assert "champion it faced: none; champion now: version 3" in card
    assert row(card, "ROC-AUC")[1:] == ["0.7123", "0.6500", "-"]


def test_a_summary_from_before_the_card_still_renders() -> None:
    old = {
        "as_of": "2013-03-01",
        "holdout": ["2013-02-15", "2013-03-01"],
        "params": {},
        "metrics": METRICS,
        "baseline": BASELINE,
        "mlflow_run_id": "abc123",
    }
    card = render_model_card(old, "1", promotion("rejected"))
    assert card.splitlines()[0] == "# flight_delay version 1: rejected"
    assert "Window and partitions: not recorded." in card
    assert "Calibration table: not recorded." in card
    assert row(card, "ROC-AUC")[1:] == ["0.7123", "0.6500", "0.7000"]


def test_a_full_card_fits_the_registry_description() -> None:
    bins = [
        {
            "bin_low": b / 10,
            "bin_high": (b + 1) / 10,
            "rows": 100_000,
            "mean_prediction": 0.5,
            "observed_rate": 0.5,
        }
        for b in range(10)
    ]
    features = [
        [f"a_long_feature_name_number_{i:02d}", 0.01] for i in range(model_card.TOP_FEATURES)
    ]
    card = render_model_card(training(calibration=bins, top_features=features), "123", promotion())
    assert len(card) <= registry.MAX_DESCRIPTION


def test_descriptions_too_long_for_the_registry_are_cut_at_a_line_with_a_pointer() -> None:
    text = "\n".join(f"line {i} " + "x" * 60 for i in range(200))
    cut = registry.fit_description(text, "The whole card: artifact model_card.md.")
    assert len(cut) <= registry.MAX_DESCRIPTION
    assert cut.endswith("The whole card: artifact model_card.md.")
    kept = cut.split("\n\n... ")[0]
    assert text.startswith(kept) and kept.endswith("x" * 60)
    assert registry.fit_description("short", "pointer") == "short"


@pytest.mark.parametrize("n", [1, 2])
def test_top_features_are_the_largest_first(n: int) -> None:
    assert top_features({"a": 0.01, "b": 0.03, "c": -0.02}, n) == [["b", 0.03], ["a", 0.01]][:n]
