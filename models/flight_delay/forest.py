"""The booster's trees as flat arrays, walked by one compiled loop: scikit-learn's sums, faster.

``HistGradientBoostingClassifier`` walks its trees one at a time over the whole batch: 300 passes
over the rows, each a parallel region of its own, and each step of a walk waits on the one
before (a node's test picks the next node to load). Here each thread takes a block of rows and
walks every tree for it while the block stays in cache, four rows at a time, so four walks are
in flight at once. The leaves are added in scikit-learn's order (the baseline, then tree by
tree), so each row's sum is the same float, bit for bit (``tests/unit/models/
test_flight_delay_forest.py``): 0.50 s against 0.80 s for 294,600 rows on 2 cores.

A node goes left as scikit-learn's binned predictor decides: the missing-value bin goes where
the split sends missing values; a categorical split tests the bin in its bitset; a numeric one
compares the bin with the split's bin threshold.

numba compiles the loop on the first call of a process (about a second; cached on disk, so
later processes load it). The forest of a fitted booster is flattened once and kept while the
booster lives. Importing this module needs numba; :func:`raw_predictions` returns None for a
booster of another shape. ``models.flight_delay`` then takes scikit-learn's own walk, tree by
tree: the same sums, slower.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

log = logging.getLogger(__name__)
# Rows a thread walks every tree for at a time: 4,096 rows of 39 bins stay in cache.
BLOCK_ROWS = 4096
_forests: weakref.WeakKeyDictionary[Any, Forest | None] = weakref.WeakKeyDictionary()
# numba's workqueue threading layer (the one it takes without OpenMP or TBB) must not be entered
# by two threads at once, and the predictions API scores from a thread pool: one walk at a time.
_walking = threading.Lock()


@dataclass(frozen=True)
class Forest:
    """Every node of every tree, in flat arrays indexed by a node's global number."""

    roots: np.ndarray  # int32, per tree: its root
    feature: np.ndarray  # int32: the column a split reads
    threshold: np.ndarray  # uint8: numeric split, go left when bin <= threshold
    missing_left: np.ndarray  # uint8: where the missing-value bin goes
    categorical: np.ndarray  # uint8: a categorical split (tests ``bitsets[bitset]``)
    bitset: np.ndarray  # int32: row of ``bitsets`` (0: none)
    left: np.ndarray  # int32
    right: np.ndarray  # int32
    leaf: np.ndarray  # uint8
    value: np.ndarray  # float64: a leaf's value
    bitsets: np.ndarray  # uint32 (k, 8): the categories a split sends left, a bit per bin
    missing_bin: int
    baseline: float


def raw_predictions(booster: Any, binned: np.ndarray) -> np.ndarray | None:
    """``booster``'s raw score of each row binned by its own bin mapper: the baseline plus the
    leaf of each tree, added in scikit-learn's order (None: not a binary booster, or the walk
    could not be compiled here; the caller then takes scikit-learn's)."""
    forest = _forest(booster)
    if forest is None:
        return None
    rows = np.ascontiguousarray(binned, dtype=np.uint8)
    out = np.empty(rows.shape[0], dtype=np.float64)
    f = forest
    try:
        with _walking:
            walk(
                rows,
                *(f.roots, f.feature, f.threshold, f.missing_left, f.categorical, f.bitset),
                *(f.left, f.right, f.leaf, f.value, f.bitsets, f.missing_bin, f.baseline),
                out,
                BLOCK_ROWS,
            )
    except numba.core.errors.NumbaError as exc:
        log.warning("the compiled tree walk is unavailable (%s); using scikit-learn's", exc)
        return None
    return out


def _forest(booster: Any) -> Forest | None:
    if booster not in _forests:
        _forests[booster] = flatten(booster)
    return _forests[booster]


def flatten(booster: Any) -> Forest | None:
    """The forest of a fitted binary ``HistGradientBoostingClassifier`` (None: another shape, or
    a scikit-learn whose fitted trees are no longer what this reads)."""
    try:
        return _flattened(booster)
    except (AttributeError, IndexError, TypeError, KeyError, ValueError):
        return None


def _flattened(booster: Any) -> Forest | None:
    trees = [iteration[0] for iteration in booster._predictors]
    baseline = np.asarray(booster._baseline_prediction, dtype=np.float64).ravel()
    missing_bin = int(booster._bin_mapper.missing_values_bin_idx_)
    if baseline.size != 1 or booster.n_trees_per_iteration_ != 1 or not trees:
        return None
    sizes = [len(t.nodes) for t in trees]
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)
    nodes = np.concatenate([t.nodes for t in trees])
    offset = np.repeat(first, sizes)
    leaf = nodes["is_leaf"].astype(np.uint8)
    categorical = nodes["is_categorical"].astype(np.uint8) & ~leaf.astype(bool)
    # Each tree's categorical bitsets after the empty row 0, in one table.
    tables = [np.zeros((1, 8), np.uint32)]
    bitset = np.zeros(len(nodes), np.int32)
    for tree, start in zip(trees, first, strict=True):
        own = np.asarray(tree.binned_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
        here = slice(start, start + len(tree.nodes))
        used = categorical[here].astype(bool)
        bitset[here][used] = sum(len(t) for t in tables) + tree.nodes["bitset_idx"][used]
        tables.append(own)
    return Forest(
        roots=first,
        feature=nodes["feature_idx"].astype(np.int32),
        threshold=nodes["bin_threshold"].astype(np.uint8),
        missing_left=nodes["missing_go_to_left"].astype(np.uint8),
        categorical=categorical,
        bitset=bitset,
        left=(nodes["left"].astype(np.int64) + offset).astype(np.int32),
        right=(nodes["right"].astype(np.int64) + offset).astype(np.int32),
        leaf=leaf,
        value=nodes["value"].astype(np.float64),
        bitsets=np.concatenate(tables),
        missing_bin=missing_bin,
        baseline=float(baseline[0]),
    )


@numba.njit(inline="always")
def _step(rows, i, node, feature, threshold, missing_left, categorical, bitset, left, right,
          bitsets, missing_bin):  # fmt: skip
    """The child of ``node`` that row ``i`` goes to (scikit-learn's binned rule)."""
    x = rows[i, feature[node]]
    if x == missing_bin:
        go_left = missing_left[node] != 0
    elif categorical[node]:
        go_left = ((bitsets[bitset[node], x >> 5] >> (x & 31)) & 1) != 0
    else:
        go_left = x <= threshold[node]
    return left[node] if go_left else right[node]


def _compiled(function: Any, **options: Any) -> Any:
    """``function`` compiled by numba, cached on disk for later processes where there is a
    writable cache folder (beside this file, or ``NUMBA_CACHE_DIR``), else compiled per process."""
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(**options)(function)


def _walk(rows, roots, feature, threshold, missing_left, categorical, bitset, left, right, leaf,
         value, bitsets, missing_bin, baseline, out, block_rows):  # fmt: skip
    """``out[i] = baseline + sum over trees (in order) of row i's leaf value``."""
    n = rows.shape[0]
    blocks = (n + block_rows - 1) // block_rows
    for block in numba.prange(blocks):
        lo = block * block_rows
        hi = min(lo + block_rows, n)
        total = np.empty(hi - lo)
        for i in range(hi - lo):
            total[i] = baseline
        for root in roots:
            i = lo
            while i + 4 <= hi:  # four walks in flight: each waits on its own loads only
                a = b = c = d = root
                while not (leaf[a] and leaf[b] and leaf[c] and leaf[d]):
                    if not leaf[a]:
                        a = _step(rows, i, a, feature, threshold, missing_left, categorical,
                                  bitset, left, right, bitsets, missing_bin)  # fmt: skip
                    if not leaf[b]:
                        b = _step(rows, i + 1, b, feature, threshold, missing_left, categorical,
                                  bitset, left, right, bitsets, missing_bin)  # fmt: skip
                    if not leaf[c]:
                        c = _step(rows, i + 2, c, feature, threshold, missing_left, categorical,
                                  bitset, left, right, bitsets, missing_bin)  # fmt: skip
                    if not leaf[d]:
                        d = _step(rows, i + 3, d, feature, threshold, missing_left, categorical,
                                  bitset, left, right, bitsets, missing_bin)  # fmt: skip
                total[i - lo] += value[a]
                total[i + 1 - lo] += value[b]
                total[i + 2 - lo] += value[c]
                total[i + 3 - lo] += value[d]
                i += 4
            while i < hi:
                node = root
                while not leaf[node]:
                    node = _step(rows, i, node, feature, threshold, missing_left, categorical,
                                 bitset, left, right, bitsets, missing_bin)  # fmt: skip
                total[i - lo] += value[node]
                i += 1
        for i in range(hi - lo):
            out[lo + i] = total[i]


walk = _compiled(_walk, parallel=True, boundscheck=False)
