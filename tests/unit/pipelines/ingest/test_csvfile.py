"""Reading a landing CSV strictly: what cannot be read says where; only empty fields are null."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from pipelines.ingest.sources.base import UnreadableSourceData
from pipelines.ingest.sources.csvfile import read_landing_csv
from pipelines.ingest.sources.nycflights import day_of

DAY = date(2013, 1, 2)


@pytest.fixture(scope="module")
def flights() -> pa.Table:
    return day_of("flights", DAY).slice(0, 20)


@pytest.fixture
def written(flights: pa.Table, tmp_path: Path) -> Path:
    path = tmp_path / "2013-01-02.csv"
    pacsv.write_csv(flights, path)
    return path


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def unreadable(path: Path, table: str = "flights") -> UnreadableSourceData:
    with pytest.raises(UnreadableSourceData) as caught:
        read_landing_csv(path, table)
    assert caught.value.file == path and caught.value.table == table
    assert str(path) in str(caught.value)
    return caught.value


def test_a_written_file_reads_back_exactly(written: Path, flights: pa.Table) -> None:
    assert read_landing_csv(written, "flights").equals(flights)


def test_a_zero_byte_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "zero-byte file" in unreadable(path).reason


def test_a_file_cut_mid_row_names_the_line(written: Path) -> None:
    data = written.read_bytes()
    written.write_bytes(data[: len(data) - 30])
    failure = unreadable(written)
    assert failure.line == 21  # header + 20 rows: the cut row is the last line
    assert "Expected 19 columns" in failure.reason


def test_an_unbalanced_quote_names_the_line(written: Path) -> None:
    lines = lines_of(written)
    lines[5] = lines[5].replace('","', ",", 1)  # a closing quote lost: the field swallows commas
    written.write_text("".join(lines), encoding="utf-8")
    failure = unreadable(written)
    assert failure.line == 6
    assert "CSV parse error" in failure.reason


@pytest.mark.parametrize("text", ["ten", "NA", "n/a"])
def test_text_in_a_numeric_column_names_line_and_column(written: Path, text: str) -> None:
    lines = lines_of(written)
    fields = lines[8].split(",")
    fields[5] = text  # dep_delay
    lines[8] = ",".join(fields)
    written.write_text("".join(lines), encoding="utf-8")
    failure = unreadable(written)
    assert (failure.line, failure.column, failure.column_name) == (9, 6, "dep_delay")
    assert f"invalid value '{text}'" in failure.reason


def test_a_latin1_file_is_refused_as_not_utf8_at_the_bad_byte(written: Path) -> None:
    lines = lines_of(written)
    lines[3] = lines[3].replace('"N', '"Ñ', 1)  # the tail number, field 12
    written.write_bytes("".join(lines).encode("latin-1"))
    failure = unreadable(written)
    assert failure.reason.startswith("not UTF-8: byte(s) D1")
    assert (failure.line, failure.column, failure.column_name) == (4, 12, "tailnum")


def test_a_bad_byte_in_a_number_is_refused_as_not_utf8_not_as_a_bad_number(
    written: Path,
) -> None:
    # The parser sees a bad number first; the encoding is still what the operator is told.
    lines = lines_of(written)
    fields = lines[6].split(",")
    fields[5] = "1\xd12"  # dep_delay
    data = (
        "".join(lines[:6]).encode()
        + ",".join(fields).encode("latin-1")
        + "".join(lines[7:]).encode()
    )
    written.write_bytes(data)
    failure = unreadable(written)
    assert failure.reason.startswith("not UTF-8: byte(s) D1")
    assert (failure.line, failure.column, failure.column_name) == (7, 6, "dep_delay")


def test_a_nul_character_in_a_text_field_is_refused_naming_its_line(written: Path) -> None:
    # Valid UTF-8, which the fast read accepts, but never in a landing file (UTF-16 text?).
    lines = lines_of(written)
    lines[5] = lines[5].replace('"N', '"N\x00', 1)  # in the tail number
    written.write_text("".join(lines), encoding="utf-8")
    failure = unreadable(written)
    assert failure.reason.startswith("not UTF-8: a NUL byte")
    assert (failure.line, failure.column_name) == (6, "tailnum")


@pytest.mark.parametrize(
    ("encoding", "what"), [("utf-16", "byte-order mark"), ("utf-16-le", "NUL")]
)
def test_a_utf16_file_is_refused_as_not_utf8(written: Path, encoding: str, what: str) -> None:
    written.write_bytes(written.read_text(encoding="utf-8").encode(encoding))
    failure = unreadable(written)
    assert failure.reason.startswith("not UTF-8") and what in failure.reason
    assert failure.line == 1


def test_a_utf8_byte_order_mark_is_accepted(written: Path, flights: pa.Table) -> None:
    written.write_bytes(b"\xef\xbb\xbf" + written.read_bytes())
    assert read_landing_csv(written, "flights").equals(flights)


def test_only_empty_fields_are_null_and_na_is_a_code(tmp_path: Path) -> None:
    path = tmp_path / "airlines.csv"
    path.write_text('"carrier","name"\n"NA","North American"\nNA,""\n"N/A",\n', encoding="utf-8")
    airlines = read_landing_csv(path, "airlines")
    assert airlines["carrier"].to_pylist() == ["NA", "NA", "N/A"]
    assert airlines["name"].to_pylist() == ["North American", "", None]


def test_a_missing_column_is_read_for_validation_to_report(written: Path) -> None:
    lines = lines_of(written)
    trimmed = [",".join(line.rstrip("\n").split(",")[:-1]) + "\n" for line in lines]
    written.write_text("".join(trimmed), encoding="utf-8")
    assert "time_hour" not in read_landing_csv(written, "flights").column_names


@pytest.mark.parametrize("where", ["an extra column", "the header"])
def test_a_bad_byte_outside_the_schema_is_still_refused_as_not_utf8(
    written: Path, where: str
) -> None:
    # The fast read takes an unknown column of bad bytes as binary, and replaces a bad header
    # byte: the byte scan still names it before the schema check could.
    lines = lines_of(written)
    if where == "the header":
        data = lines[0].replace('"dest"', '"d\xe9st"').encode("latin-1")
        data += "".join(lines[1:]).encode()
    else:
        body = [lines[0].rstrip("\n") + ',"note"\n'] + [
            line.rstrip("\n") + ',"x"\n' for line in lines[1:]
        ]
        data = "".join(body[:4]).encode() + body[4].replace('"x"', '"caf\xe9"').encode("latin-1")
        data += "".join(body[5:]).encode()
    written.write_bytes(data)
    failure = unreadable(written)
    assert failure.reason.startswith("not UTF-8: byte(s) E9")
    assert failure.line == (1 if where == "the header" else 5)
