"""Read one landing CSV strictly: UTF-8, the canonical types, and only empty fields are null.

The contract with upstream (and what ``generate_landing`` writes with pyarrow's writer): UTF-8
text, a header row, strings quoted, a null is an empty unquoted field. So ``NA`` in a string column
is the string NA (a carrier or airport code can be NA), ``""`` is an empty string, and ``NA`` or any
other text in a numeric column is an error, not a null.

Encoding policy: UTF-8 (with or without a byte-order mark) or the file is refused, naming the line
and column of the first bad byte (:func:`read_landing_csv` says how a good file is read once).
Nothing is transcoded: every byte sequence is valid latin-1, so an encoding guess can never be
verified, and a wrong guess silently changes names.

Whatever stops a file from being read raises ``UnreadableSourceData`` with the file, the parser's
message and, where they can be told, the line and column. The fast multi-threaded read is the
normal path; only a failed read pays for locating the fault.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.ingest.sources.base import UnreadableSourceData
from pipelines.ingest.sources.schemas import SCHEMAS, SchemaError, conform

_CHUNK = 1 << 20
_ROW = re.compile(r"Row #(\d+)")
_COLUMN = re.compile(r"In CSV column #(\d+): ")
_UTF16_BOMS = {b"\xff\xfe": "UTF-16 little-endian", b"\xfe\xff": "UTF-16 big-endian"}
UTF8_ONLY = "landing files must be UTF-8: ask upstream to re-export the file as UTF-8"


def read_landing_csv(path: Path, table: str) -> pa.Table:
    """The whole file as ``table`` (a small file, a test): :func:`open_landing_csv`, read out."""
    return open_landing_csv(path, table).read_all()


def open_landing_csv(path: Path, table: str) -> pa.RecordBatchReader:
    """The file as ``table`` in the canonical schema (unknown columns kept, for validation), a
    batch at a time: the reader parses blocks of the file on every core, and memory holds a few
    of them, however large the file.

    The multi-threaded read checks the encoding too: it decodes every string field as UTF-8,
    and a number, a time or a delimiter is ASCII, so a file it reads into typed and text columns
    (with no NUL character, no replaced header byte, no column of raw bytes) is UTF-8. Otherwise,
    and whatever fails, the file is first scanned byte by byte, so a file that is not UTF-8 is
    refused as such, at its first bad byte, before any other fault is reported. A fault deep in
    the file is raised when the reading gets there: the caller writes nothing of it.
    """
    if path.stat().st_size == 0:
        raise _unreadable(path, table, "zero-byte file: upstream delivered no header and no rows")
    _refuse_utf16_mark(path, table)
    try:
        reader = _open(path, table)
    except pa.ArrowInvalid as exc:
        _require_utf8(path, table)
        raise _located(path, table, exc) from exc
    header = reader.schema.empty_table()
    if _may_not_be_utf8(header):
        _require_utf8(path, table)  # raises at the first bad byte, if there is one
    schema = _conformed(path, table, header).schema
    return pa.RecordBatchReader.from_batches(schema, _batches(path, table, reader))


def _batches(path: Path, table: str, reader: pacsv.CSVStreamingReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            _require_utf8(path, table)
            raise _located(path, table, exc) from exc
        data = pa.Table.from_batches([batch])
        if _may_not_be_utf8(data):
            _require_utf8(path, table)
        yield from _conformed(path, table, data).to_batches()


def _conformed(path: Path, table: str, data: pa.Table) -> pa.Table:
    try:
        return conform(table, data)
    except SchemaError as exc:
        _require_utf8(path, table)
        raise _unreadable(path, table, exc.reason, column_name=exc.column_name) from exc


def _may_not_be_utf8(data: pa.Table) -> bool:
    """What the fast read lets through that only the byte scan can judge: a NUL character (valid
    UTF-8, but a sign of UTF-16 text), a header the reader decoded with replacement characters,
    and a column outside the schema that it read as raw bytes (not UTF-8 text)."""
    try:
        names = data.column_names
    except UnicodeDecodeError:  # a header byte that is not UTF-8, kept as it was
        return True
    if any("\x00" in name or "\ufffd" in name for name in names):
        return True
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in data.schema):
        return True
    texts = [data.column(f.name) for f in data.schema if pa.types.is_string(f.type)]
    return any(pc.any(pc.match_substring(c, "\x00")).as_py() for c in texts)


def _refuse_utf16_mark(path: Path, table: str) -> None:
    with path.open("rb") as fh:
        head = fh.read(2)
    if head in _UTF16_BOMS:
        reason = f"not UTF-8: {_UTF16_BOMS[head]} (byte-order mark); {UTF8_ONLY}"
        raise _unreadable(path, table, reason, line=1, column=1)


# Blocks the reader parses at a time: large enough for its threads to be busy.
_BLOCK_BYTES = 16 << 20


def _read(path: Path, table: str, use_threads: bool) -> pa.Table:
    """The whole file (to locate a fault: single-threaded, the parser counts lines)."""
    read, convert = _options(table, use_threads)
    return pacsv.read_csv(path, read_options=read, convert_options=convert)


def _open(path: Path, table: str) -> pacsv.CSVStreamingReader:
    read, convert = _options(table, use_threads=True)
    return pacsv.open_csv(path, read_options=read, convert_options=convert)


def _options(table: str, use_threads: bool) -> tuple[pacsv.ReadOptions, pacsv.ConvertOptions]:
    schema = SCHEMAS[table]
    # Single-threaded, the parser counts lines, so its errors say "Row #<line>".
    read = pacsv.ReadOptions(use_threads=use_threads, block_size=_BLOCK_BYTES)
    convert = pacsv.ConvertOptions(
        column_types=dict(zip(schema.names, schema.types, strict=True)),
        # Only an empty unquoted field is null (pyarrow's default also nulls NA, N/A, null...).
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    return read, convert


def _unreadable(
    path: Path,
    table: str,
    reason: str,
    *,
    line: int | None = None,
    column: int | None = None,
    column_name: str | None = None,
) -> UnreadableSourceData:
    return UnreadableSourceData(
        table,
        reason,
        location=str(path),
        line=line,
        column=column,
        column_name=column_name,
        file=path,
    )


def _require_utf8(path: Path, table: str) -> None:
    """Raise at the first byte of ``path`` that is not UTF-8 (or a NUL); return if none is."""
    with path.open("rb") as fh:
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        offset = 0
        while chunk := fh.read(_CHUNK):
            carried = len(decoder.getstate()[0])
            if (nul := chunk.find(b"\x00")) >= 0:
                raise _bad_byte(path, table, offset + nul, "a NUL byte (UTF-16 text?)")
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = f"byte(s) {exc.object[exc.start : exc.end].hex(' ').upper()}"
                raise _bad_byte(path, table, offset - carried + exc.start, bad) from exc
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            cut = "a multi-byte character cut at the end of the file"
            raise _bad_byte(path, table, offset - len(exc.object), cut) from exc


def _bad_byte(path: Path, table: str, offset: int, what: str) -> UnreadableSourceData:
    """Where byte ``offset`` is: its 1-based line and field (comma-separated, outside quotes)."""
    line, tail, remaining = 1, b"", offset
    with path.open("rb") as fh:  # streamed: the bad byte may sit deep in a large file
        while remaining > 0 and (chunk := fh.read(min(_CHUNK, remaining))):
            remaining -= len(chunk)
            line += chunk.count(b"\n")
            cut = chunk.rfind(b"\n")
            tail = chunk[cut + 1 :] if cut >= 0 else tail + chunk
    field = _field_number(tail.decode("utf-8", errors="replace"))
    header = _header(path)
    name = header[field - 1] if line > 1 and field <= len(header) else None
    reason = f"not UTF-8: {what} cannot be decoded as UTF-8; {UTF8_ONLY}"
    return _unreadable(path, table, reason, line=line, column=field, column_name=name)


def _field_number(line_prefix: str) -> int:
    quoted, field = False, 1
    for char in line_prefix:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            field += 1
    return field


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        return next(csv.reader(fh), [])


def _located(path: Path, table: str, exc: pa.ArrowInvalid) -> UnreadableSourceData:
    """The parser's error with its line (and column for a value of the wrong type)."""
    message = str(exc)
    if (column := _COLUMN.match(message)) is not None:
        return _conversion_error(path, table, int(column.group(1)), message)
    try:  # re-read single-threaded: the parser then names the line
        _read(path, table, use_threads=False)
    except pa.ArrowInvalid as again:
        message = str(again)
    row = _ROW.search(message)
    return _unreadable(path, table, message, line=int(row.group(1)) if row else None)


def _conversion_error(path: Path, table: str, index: int, message: str) -> UnreadableSourceData:
    """A value that is not of its column's type: find the first one, to name its line."""
    header = _header(path)
    name = header[index] if index < len(header) else None
    line = None
    if name in SCHEMAS[table].names:
        target = SCHEMAS[table].field(name).type
        values = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=[name],
                column_types={name: pa.string()},
                null_values=[""],
                strings_can_be_null=True,
            ),
        )[name].combine_chunks()
        row = _first_uncastable(values, target)
        # Line = data row + 2 (the header is line 1): landing files have no multi-line fields.
        line = None if row is None else row + 2
    return _unreadable(path, table, message, line=line, column=index + 1, column_name=name)


def _first_uncastable(values: pa.Array, target: pa.DataType) -> int | None:
    """Index of the first value that does not cast to ``target`` (binary search over slices)."""
    if _casts(values, target):
        return None
    low, high = 0, len(values)  # values[low:high] holds a bad value
    while high - low > 1:
        middle = (low + high) // 2
        if _casts(values.slice(low, middle - low), target):
            low = middle
        else:
            high = middle
    return low


def _casts(values: pa.Array, target: pa.DataType) -> bool:
    try:
        values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
