"""Reading a student's own files, with one clear message for each way they go wrong."""
from __future__ import annotations

import codecs
from pathlib import Path

from ..errors import DataError

_SHOW_ROWS = 5


def _existing_file(path, what: str) -> Path:
    if path is None or (isinstance(path, str) and not path.strip()):
        raise DataError(f"no {what} path was given.", hint="pass the path of a file, e.g. 'my_text.txt'")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(
            f"the {what} {p} does not exist.",
            hint=f"check the path (the current directory is {Path.cwd()})",
        )
    if p.is_dir():
        raise DataError(f"{p} is a directory, not a {what}.", hint=f"pass the path of a {what} inside it")
    if not p.is_file():
        raise DataError(f"{p} is not a regular file.", hint=f"pass the path of a {what}")
    return p


def _read_bytes(p: Path, what: str) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise DataError(f"the {what} {p} cannot be read: {exc.strerror or exc}.") from None


def _decode_utf8(raw: bytes, p: Path) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(
            f"{p} is UTF-16 text; the course reads UTF-8.",
            hint=f"convert it: iconv -f utf-16 -t utf-8 '{p}' > '{p.stem}.utf8{p.suffix}'",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start:exc.start + 1].hex()
        raise DataError(
            f"{p} is not valid UTF-8: byte 0x{bad} at byte offset {exc.start} (line {line}) "
            "cannot be decoded.",
            hint=(
                "the file is probably Latin-1 or Windows-1252; convert it with "
                f"iconv -f latin1 -t utf-8 '{p}' > '{p.stem}.utf8{p.suffix}'"
            ),
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text_file(path, min_chars: int = 0) -> str:
    """The UTF-8 text of ``path`` (newlines normalised to ``\\n``, byte-order mark removed).

    Raises :class:`DataError` with one clear message when the file is missing,
    is a directory, is empty, holds fewer than ``min_chars`` characters, or is
    not UTF-8 (the message gives the byte offset and an ``iconv`` command).
    """
    p = _existing_file(path, "text file")
    raw = _read_bytes(p, "text file")
    if not raw:
        raise DataError(f"the text file {p} is empty (0 bytes).", hint="put some text in it, or pick another file")
    text = _decode_utf8(raw, p)
    if not text.strip():
        raise DataError(
            f"the text file {p} holds only whitespace ({len(raw)} bytes).",
            hint="put some text in it, or pick another file",
        )
    if min_chars and len(text) < min_chars:
        raise DataError(
            f"the text file {p} is too short: {len(text):,} characters, at least {min_chars:,} are needed.",
            hint='use a longer text, e.g. textrnn_lab.data.load_text("austen"), or lower the minimum',
        )
    return text


def _row_list(mask) -> str:
    rows = [int(i) + 1 for i in mask[mask].index[:_SHOW_ROWS]]
    shown = ", ".join(str(r) for r in rows)
    more = "" if int(mask.sum()) <= _SHOW_ROWS else ", ..."
    return shown + more


def read_labelled_csv(path, text_column: str = "text", label_column: str = "label", sep: str | None = None):
    """A labelled text dataset from a CSV file (TSV when the name ends in ``.tsv``).

    Returns a :class:`pandas.DataFrame` with every column of the file, the text
    column as strings. Raises :class:`DataError` for a missing file, missing
    columns (listing those present), no rows, empty texts or labels (how many,
    and the first row numbers, counting the first row after the header as 1),
    or a single class.
    """
    import pandas as pd

    p = _existing_file(path, "CSV file")
    raw = _read_bytes(p, "CSV file")
    if not raw.strip():
        raise DataError(f"the CSV file {p} is empty.",
                        hint=f"it needs a header row with '{text_column}' and '{label_column}' and some rows")
    _decode_utf8(raw, p)  # a clear message for non-UTF-8 files
    if sep is None:
        sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    try:
        frame = pd.read_csv(p, sep=sep, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise DataError(f"the CSV file {p} has no header row.",
                        hint=f"the first line must name the columns, e.g. {text_column},{label_column}") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(
            f"the CSV file {p} cannot be parsed: {str(exc).strip()}",
            hint="check the quoting and the number of fields on each line"
            + ("" if sep != "," else "; pass sep='\\t' or sep=';' if the file uses another separator"),
        ) from None
    columns = [str(c) for c in frame.columns]
    missing = [c for c in (text_column, label_column) if c not in columns]
    if missing:
        names = ", ".join(repr(c) for c in columns)
        hint = f"the file has the columns: {names}; pass text_column=... and label_column=..."
        if len(columns) == 1 and any(s in columns[0] for s in (";", "\t", "|")):
            hint += "; the header looks like it uses another separator, pass sep=..."
        raise DataError(
            f"the CSV file {p} has no column {' or '.join(repr(c) for c in missing)}.",
            hint=hint,
        )
    if len(frame) == 0:
        raise DataError(f"the CSV file {p} has a header but no rows.", hint="add labelled examples, one per row")
    for column, what in ((text_column, "text"), (label_column, "label")):
        values = frame[column]
        empty = values.isna() | values.astype(str).str.strip().eq("")
        if empty.any():
            count = int(empty.sum())
            raise DataError(
                f"the CSV file {p} has {count} row{'s' if count != 1 else ''} with an empty {what} "
                f"(column {column!r}), rows {_row_list(empty)}.",
                hint="fill them in or delete those rows (rows count from 1 after the header)",
            )
    classes = frame[label_column].unique()
    if len(classes) < 2:
        raise DataError(
            f"every row of {p} has the same label {classes[0]!r}; a classifier needs at least two classes.",
            hint=f"add examples of another class to column {label_column!r}",
        )
    frame[text_column] = frame[text_column].astype(str)
    return frame.reset_index(drop=True)
