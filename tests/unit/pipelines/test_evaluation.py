"""Metrics with known answers, and the errors that keep a bad evaluation from passing quietly."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.evaluation import (
    EvaluationError,
    binary_metrics,
    calibration_table,
    curves_figures,
    importance_figure,
)

Y = [0, 0, 1, 1]
P = [0.1, 0.4, 0.35, 0.8]


def test_known_answers() -> None:
    got = binary_metrics(Y, P)
    # Pairs (pos, neg): (0.35 > 0.1), (0.35 < 0.4), (0.8 > 0.1), (0.8 > 0.4): 3 of 4.
    assert got.roc_auc == pytest.approx(0.75)
    assert got.brier == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    expected_log_loss = -np.mean(np.log([0.9, 0.6, 0.35, 0.8]))
    assert got.log_loss == pytest.approx(expected_log_loss)
    # Average precision: ranks 0.8 (pos), 0.4 (neg), 0.35 (pos): (1/1 + 2/3) / 2.
    assert got.pr_auc == pytest.approx((1 + 2 / 3) / 2)
    assert got.rows == 4
    assert got.positive_rate == 0.5
    assert got.mean_prediction == pytest.approx(0.4125)


def test_a_perfect_forecast() -> None:
    got = binary_metrics([0, 1, 0, 1], [0.0, 1.0, 0.0, 1.0])
    assert got.roc_auc == 1.0 and got.brier == 0.0 and got.pr_auc == 1.0


def test_as_dict_prefixes_every_metric() -> None:
    d = binary_metrics(Y, P).as_dict("holdout_")
    assert set(d) == {
        "holdout_roc_auc",
        "holdout_pr_auc",
        "holdout_brier",
        "holdout_log_loss",
        "holdout_rows",
        "holdout_positive_rate",
        "holdout_mean_prediction",
    }


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([], [], "no labelled rows"),
        ([1, 1, 1], [0.2, 0.3, 0.4], "all 3 outcomes are 1"),
        ([0, 1], [0.2, 1.3], "probabilities"),
        ([0, 1], [0.2, float("nan")], "NaN"),
        ([0, 1, 1], [0.2, 0.3], "same size"),
        ([0, 2], [0.2, 0.3], "0 or 1"),
    ],
)
def test_unscorable_input_is_refused(y, p, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        binary_metrics(y, p)


def test_calibration_table_groups_by_predicted_probability() -> None:
    table = calibration_table([0, 1, 1, 0, 1], [0.05, 0.08, 0.55, 0.58, 1.0], bins=10)
    assert [(r["bin_low"], r["rows"], r["observed_rate"]) for r in table] == [
        (0.0, 2, 0.5),
        (0.5, 2, 0.5),
        (0.9, 1, 1.0),  # p = 1.0 falls in the last bin, not past it
    ]


def test_plots_are_figures_with_one_line_per_forecast() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    figures = curves_figures(y, {"model": rng.random(200), "baseline": rng.random(200)})
    assert set(figures) == {"roc_curve.png", "precision_recall_curve.png", "calibration_curve.png"}
    roc = figures["roc_curve.png"]
    labels = [line.get_label() for line in roc.axes[0].get_lines()]
    assert any(label.startswith("model (AUC") for label in labels)
    assert any(label.startswith("baseline (AUC") for label in labels)
    bars = importance_figure({"a": 0.03, "b": 0.01, "c": -0.001}, top=2)
    assert [t.get_text() for t in bars.axes[0].get_yticklabels()] == ["b", "a"]


def _texts_outside_the_figure(figure) -> list[str]:
    """Every drawn title, label and tick label that does not fit inside the saved image."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    page = figure.bbox
    outside = []
    for ax in figure.axes:
        low, high = sorted(ax.get_ylim())
        ticks = [t.label1 for t in ax.yaxis.get_major_ticks() if low <= t.get_loc() <= high]
        texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ticks, *ax.texts]
        for text in texts:
            if not text.get_text() or not text.get_visible():
                continue
            box = text.get_window_extent(renderer)
            if box.x0 < page.x0 - 1 or box.x1 > page.x1 + 1 or box.y1 > page.y1 + 1:
                outside.append(text.get_text())
    return outside


def test_no_title_or_label_is_clipped() -> None:
    import models.flight_delay as fd

    # The real feature names (the longest push the bars right) and a spread of values.
    importance = {name: 0.05 / (i + 1) for i, name in enumerate(fd.FEATURES)}
    figure = importance_figure(importance)
    assert "Permutation importance" in figure.axes[0].get_title()
    assert _texts_outside_the_figure(figure) == []
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    for name, curve in curves_figures(
        y, {"model": rng.random(300), "baseline": rng.random(300)}
    ).items():
        assert _texts_outside_the_figure(curve) == [], name
