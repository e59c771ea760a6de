"""flight_delay: probability that a scheduled flight arrives more than 15 minutes late.

One scikit-learn ``Pipeline`` (categorical encoding + histogram gradient boosting), logged to
MLflow as one model, so scoring applies exactly the preprocessing training used. Reviewed default
parameters live in ``params.json``; the seed is fixed so the same data gives the same model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from models.flight_delay.schema import (  # noqa: F401 (re-exported: fd.LABEL, ...)
    BASELINE_FEATURE,
    CATEGORICAL,
    FEATURES,
    KEY,
    LABEL,
    MODEL_NAME,
    NUMERIC,
    PRIOR_DELAY_RATE,
    RISK_BANDS,
    SEED,
    risk_band,
    risk_bands,
)

log = logging.getLogger(__name__)

# Types skops may load beyond its defaults, each reviewed (listed by skops.io.get_untrusted_types
# for this pipeline): the booster's fitted trees, and the validation helper its ColumnTransformer
# keeps as a partial. Never fall back to cloudpickle.
SKOPS_TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "functools.partial",
]

# The randomized search samples from these (each a reviewed, sensible range).
SEARCH_SPACE: dict[str, list[Any]] = {
    "learning_rate": [0.03, 0.05, 0.08, 0.12],
    "max_iter": [200, 300, 500],
    "max_leaf_nodes": [15, 31, 63],
    "min_samples_leaf": [20, 50, 80, 150],
    "l2_regularization": [0.0, 0.5, 1.0, 3.0],
    "max_features": [0.5, 0.8, 1.0],
}


def default_params() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("params.json")).read_text())


def build_pipeline(params: dict[str, Any] | None = None) -> Pipeline:
    """Unfitted pipeline: ordinal-encode categoricals, pass numerics, boost (NaN handled)."""
    params = {**default_params(), **(params or {})}
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-1,
                ),
                CATEGORICAL,
            ),
            ("numeric", "passthrough", NUMERIC),
        ],
        verbose_feature_names_out=False,
    )
    booster = HistGradientBoostingClassifier(
        categorical_features=list(range(len(CATEGORICAL))),
        early_stopping=False,
        random_state=SEED,
        **params,
    )
    return Pipeline([("encode", encode), ("model", booster)])


def feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns, typed as the model expects (nullable ints become float NaN)."""
    missing = [c for c in FEATURES if c not in frame.columns]
    if missing:
        raise KeyError(f"feature columns missing: {missing}")
    out = frame[FEATURES].copy()
    out[NUMERIC] = out[NUMERIC].astype("float64")
    out[CATEGORICAL] = out[CATEGORICAL].astype("object")
    return out


def input_columns(model: Any) -> list[str]:
    """The columns *this model* was fitted on (what :func:`predict` reads of a frame)."""
    return list(getattr(model, "feature_names_in_", FEATURES))


def predict(model: Any, frame: pd.DataFrame | pa.Table | pa.RecordBatch) -> np.ndarray:
    """P(delayed) for each row, with the columns *this model* was fitted on.

    The one way training, promotion and scoring ask a fitted model for probabilities. A champion
    fitted before a feature change still scores: it gets its own columns (the feature table keeps
    every column it ever had), typed as at fit time. Arrow (scoring's batches) is encoded in Arrow
    (:func:`booster_rows`), to the same probabilities as its pandas frame."""
    if isinstance(frame, (pa.Table, pa.RecordBatch)):
        _require_columns(model, frame.schema.names)
        try:
            rows = booster_rows(model, frame)
            if rows is not None:
                return _binned_probabilities(model[-1], rows)
        except _MOVED as exc:
            _warn_fallback(exc)
        frame = frame.to_pandas()
    return probabilities(model, model_input(model, frame))


def _require_columns(model: Any, present: list[str]) -> list[str]:
    if missing := [c for c in input_columns(model) if c not in present]:
        raise KeyError(f"the model needs columns the frame lacks: {missing}")
    return input_columns(model)


def model_input(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``frame`` *this model* was fitted on, typed as at fit time (``KeyError``
    naming the columns the frame lacks)."""
    columns = _require_columns(model, list(frame.columns))
    x = frame[columns].copy()
    for c in columns:
        x[c] = x[c].astype("object" if c in CATEGORICAL else "float64")
    return x


def baseline_probability(frame: pd.DataFrame) -> np.ndarray:
    """The naive forecast a model must beat: the route's trailing 28-day delay rate."""
    rate = frame[BASELINE_FEATURE].astype("float64")
    rate = rate.fillna(frame["all_flights_delay_rate_28d"].astype("float64"))
    return rate.fillna(PRIOR_DELAY_RATE).clip(0.0, 1.0).to_numpy()


def probabilities(model: Any, x: pd.DataFrame) -> np.ndarray:
    """``model.predict_proba(x)[:, 1]``, equal to the last bit, two to three times as fast.

    ``predict_proba`` walks each of the 300 trees over the raw float64 rows (312 bytes a row). The
    booster was fitted on the rows mapped to its bins (a byte a column), and the binned rows reach
    the same leaves: a value goes left when it is at most the split's threshold, the upper edge of
    the split's bin (infinities included); NaN is the missing bin either way; a category is its own
    bin, and the booster's own encoder makes an unknown one NaN. The walk over the binned rows is
    :mod:`models.flight_delay.forest`'s; the sums are the same (``tests/unit/models/
    test_flight_delay_inference.py`` compares them on real data). This reads the booster's private
    state: a scikit-learn that moved it gets ``predict_proba`` (logged once as a warning), and the
    test that refuses ``predict_proba`` fails there. ``x``: the model's input columns, typed as at
    fit time (:func:`model_input`)."""
    booster = _boosted_tail(model)
    if booster is None:
        return model.predict_proba(x)[:, 1]
    encoded = model[:-1].transform(x)
    try:
        # The booster's own category mapping, then its trees over the binned rows.
        return _binned_probabilities(booster, booster._preprocess_X(encoded, reset=False))
    except _MOVED as exc:
        _warn_fallback(exc)
        return booster.predict_proba(encoded)[:, 1]


_MOVED = (ImportError, AttributeError, TypeError)  # a scikit-learn that moved private state
_FALLBACK_LOGGED: list[BaseException] = []


def _warn_fallback(exc: BaseException) -> None:
    if not _FALLBACK_LOGGED:
        _FALLBACK_LOGGED.append(exc)
        log.warning("binned prediction unavailable (%s); using predict_proba", exc)


def _boosted_tail(model: Any) -> HistGradientBoostingClassifier | None:
    booster = model[-1] if isinstance(model, Pipeline) else None
    if isinstance(booster, HistGradientBoostingClassifier) and booster.n_trees_per_iteration_ == 1:
        return booster
    return None


def booster_rows(model: Any, frame: pa.Table | pa.RecordBatch) -> np.ndarray | None:
    """What ``model[:-1].transform`` and the booster's own category mapping make of
    :func:`model_input` of ``frame.to_pandas()`` (the same floats), computed in Arrow: a category
    is one vectorised lookup of the booster's code of the encoder's code (NaN when unseen or
    missing, as both encoders do); a number is float64 (null: NaN). 0.2 s against 2.8 s the pandas
    way for 982,000 rows. None when ``model`` is not :func:`build_pipeline`'s shape or a column
    neither a string nor a number (:func:`predict` then takes the pandas way)."""
    if (plan := _arrow_plan(model)) is None:
        return None
    rows = np.empty((frame.num_rows, len(plan)), dtype=np.float64, order="F")
    for j, (name, known, booster_code) in enumerate(plan):
        column, kind = frame.column(name), frame.schema.field(name).type
        if known is None and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            rows[:, j] = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        elif known is not None and booster_code is not None and _is_text(kind):
            # index_in: the string's position among the encoder's categories; null when unseen.
            index = pc.index_in(column, value_set=known.cast(column.type)).fill_null(-1)
            rows[:, j] = booster_code[index.to_numpy(zero_copy_only=False) + 1]
        else:
            return None
    return rows


def _arrow_plan(model: Any) -> list[tuple[str, pa.Array | None, np.ndarray | None]] | None:
    """Per input column of the booster: its name, and for a category the encoder's known strings
    and what each encoder code (-1 first: unseen or missing) is to the booster."""
    booster = _boosted_tail(model)
    if booster is None or len(model.steps) != 2 or not isinstance(model[0], ColumnTransformer):
        return None
    outer = [t for t in model[0].transformers_ if t[0] != "remainder" or t[1] != "drop"]
    inner = booster._preprocessor
    if len(outer) != 2 or not isinstance(inner, ColumnTransformer):
        return None
    (_, encoder, categorical), (passed, _, numeric) = outer
    passthrough = dict((n, t) for n, t, _ in model[0].transformers).get(passed)  # as specified
    codes, is_coded = {n: (t, c) for n, t, c in inner.transformers_}.get("encoder", (None, []))
    if (
        passthrough != "passthrough"
        or (model[0].transformer_weights, inner.transformer_weights) != (None, None)
        or not set(categorical) <= set(CATEGORICAL)
        or set(numeric) & set(CATEGORICAL)
        or not (_plain_ordinal(encoder, -1) and _plain_ordinal(codes, np.nan))
        or list(is_coded) != [True] * len(categorical) + [False] * len(numeric)
    ):
        return None
    plan: list[tuple[str, pa.Array | None, np.ndarray | None]] = []
    for name, cats, seen in zip(categorical, encoder.categories_, codes.categories_, strict=True):
        # Sorted, NaN (missing) last. None is a category to the encoder but Arrow's null is NaN to
        # pandas: it goes the pandas way, as any non-string. The booster's: the codes it was fit on.
        known = [c for c in cats if not _is_nan(c)]
        if not all(isinstance(c, str) for c in known) or list(cats[: len(known)]) != known:
            return None
        to_booster = np.full(len(cats) + 1, np.nan)
        to_booster[seen[~np.isnan(seen)].astype(np.int64) + 1] = np.arange(np.sum(~np.isnan(seen)))
        plan.append((name, pa.array(known, pa.string()), to_booster))
    return plan + [(name, None, None) for name in numeric]


def _plain_ordinal(encoder: Any, code: float) -> bool:
    """An OrdinalEncoder coding unseen and missing values as ``code``, without infrequent ones."""

    def same(value: Any) -> bool:
        return bool(value == code or (np.isnan(code) and _is_nan(value)))

    return (
        isinstance(encoder, OrdinalEncoder)
        and encoder.handle_unknown == "use_encoded_value"
        and same(encoder.unknown_value)
        and same(encoder.encoded_missing_value)
        and encoder.max_categories is None
        and encoder.min_frequency is None
        and np.dtype(encoder.dtype) == np.float64
    )


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and bool(np.isnan(value))


def _is_text(kind: pa.DataType) -> bool:  # large_string: what pandas' str columns become
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _binned_probabilities(booster: HistGradientBoostingClassifier, x: np.ndarray) -> np.ndarray:
    """``booster.predict_proba`` of the rows ``x`` the booster preprocessed, over binned rows: the
    compiled walk of :mod:`models.flight_delay.forest`, else scikit-learn's (the same sums)."""
    binned = booster._bin_mapper.transform(x)
    try:
        from models.flight_delay.forest import raw_predictions
    except ImportError:  # numba is not installed
        raw = None
    else:
        raw = raw_predictions(booster, binned)
    if raw is None:
        raw = sklearn_walk(booster, binned)
    return booster._loss.predict_proba(raw.reshape(-1, 1))[:, 1]


def sklearn_walk(booster: HistGradientBoostingClassifier, binned: np.ndarray) -> np.ndarray:
    """scikit-learn's raw scores of binned rows, tree by tree (the compiled walk's reference)."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    baseline = booster._baseline_prediction
    summed = np.zeros((binned.shape[0], 1), dtype=baseline.dtype, order="F")
    summed += baseline
    threads = _openmp_effective_n_threads()
    booster._predict_iterations(binned, booster._predictors, summed, True, threads)
    return summed[:, 0]
