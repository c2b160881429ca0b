"""Turn a CSV file's bytes into text, refusing whenever a choice would change its letters.

- A file that is valid UTF-8 is read as UTF-8 (a byte order mark is dropped), whatever a
  detector would guess: a guess can only turn its accented letters into others.
- A file with lines in UTF-8 and bytes that are not UTF-8 mixes encodings. No single
  encoding reads both kinds of line right (cp1252 turns `Müller` into `MÃ¼ller`), so it is
  refused, naming the first byte that is not UTF-8 and a line that is.
- A file with no UTF-8 beyond ASCII is in a one-byte legacy encoding: it is detected, and
  the import says in a note which encoding it used.
- A forced `encoding` that would read UTF-8 text as other letters is refused with the line,
  the word and what it would become.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from retainly.errors import FileFormatError

_DETECT_BYTES = 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# A word holding a letter beyond ASCII, as the messages show it.
_WORD = re.compile(r"[^\s,;|\t\"']*[^\x00-\x7f][^\s,;|\t\"']*")


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    note: str | None = None  # said to the user when the encoding was detected rather than known


@dataclass(frozen=True)
class _Scan:
    """Where UTF-8 text beyond ASCII is, and where the first byte that is not UTF-8 is."""

    utf8_line: int | None = None
    utf8_bytes: bytes = b""
    bad_line: int | None = None
    bad_byte: int = 0


def decode(name: str, data: bytes, encoding: str | None) -> Decoded:
    """The text of ``data``; see the module docstring."""
    if encoding:
        return _forced(name, data, encoding)
    if data.startswith(_UTF16_BOMS):
        try:
            return Decoded(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError as exc:
            raise _not_valid(name, data, exc, "utf-16") from None
    try:
        return Decoded(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError as exc:
        first_error = exc
    scan = _scan(data)
    if scan.utf8_line is not None:
        raise _mixed(name, scan)
    from charset_normalizer import from_bytes

    guess = from_bytes(data[:_DETECT_BYTES]).best()
    if guess is not None:
        codec = codecs.lookup(guess.encoding).name
        if codec not in {"utf-8", "ascii"}:
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                pass
            else:
                return Decoded(text, codec, f"{name} is not UTF-8: read as {codec}, detected from its bytes; "
                                            "if accented letters look wrong, name the file's encoding")
    raise _not_valid(name, data, first_error, "utf-8", guessed=True)


def _forced(name: str, data: bytes, encoding: str) -> Decoded:
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise FileFormatError(f"unknown encoding {encoding!r}; use a name such as utf-8, cp1252 or latin-1",
                              parameter="encoding") from None
    if codec == "utf-8":
        codec = "utf-8-sig"  # the byte order mark is not part of the first column's name
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        scan = _scan(data) if codec == "utf-8-sig" else _Scan()
        raise (_mixed(name, scan) if scan.utf8_line is not None else _not_valid(name, data, exc, encoding)) from None
    if codec == "utf-8-sig":
        return Decoded(text, "utf-8")
    try:
        as_utf8 = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        as_utf8 = None
    if as_utf8 is not None:
        if as_utf8 == text:  # ASCII only: every such encoding reads the same letters
            return Decoded(text, codec)
        raise _changes_utf8(name, data, encoding, codec)
    if _ascii_compatible(codec):
        scan = _scan(data)
        if scan.utf8_line is not None:
            word = _WORD.search(scan.utf8_bytes.decode("utf-8")).group(0)
            raise FileFormatError(
                f"{name}:{scan.utf8_line}: this line is UTF-8, and reading it as {encoding} would change {word!r} "
                f"into {_as(word, codec)!r}; the file mixes encodings (line {scan.bad_line}: byte "
                f"0x{scan.bad_byte:02x} is not UTF-8): save it in one encoding and import again",
                parameter="encoding",
            )
    return Decoded(text, codec)


def _changes_utf8(name: str, data: bytes, encoding: str, codec: str) -> FileFormatError:
    """The refusal of a forced encoding on a valid UTF-8 file, naming the first line it changes."""
    line, word = 1, data.decode("utf-8-sig")[:20]
    if _ascii_compatible(codec):
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.isascii():
                line, word = number, _WORD.search(raw.decode("utf-8")).group(0)
                break
    return FileFormatError(
        f"{name}:{line}: the file is valid UTF-8, and reading it as {encoding} would change {word!r} into "
        f"{_as(word, codec)!r}; import it without `encoding`",
        parameter="encoding",
    )


def _as(word: str, codec: str) -> str:
    return word.encode("utf-8").decode(codec, errors="replace")


def _ascii_compatible(codec: str) -> bool:
    sample = b"order_id,customer_id\n"
    return sample.decode(codec, errors="replace") == sample.decode("ascii")


def _scan(data: bytes) -> _Scan:
    """Lines beyond ASCII, each valid UTF-8 or not (no UTF-8 sequence holds a newline byte)."""
    utf8_line = bad_line = None
    utf8_bytes, bad_byte = b"", 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            if bad_line is None:
                bad_line, bad_byte = number, line[exc.start]
        else:
            if utf8_line is None:
                utf8_line, utf8_bytes = number, line
        if utf8_line is not None and bad_line is not None:
            break
    return _Scan(utf8_line, utf8_bytes, bad_line, bad_byte)


def _mixed(name: str, scan: _Scan) -> FileFormatError:
    word = _WORD.search(scan.utf8_bytes.decode("utf-8")).group(0)
    return FileFormatError(
        f"{name}:{scan.bad_line}: byte 0x{scan.bad_byte:02x} is not UTF-8, but line {scan.utf8_line} is "
        f"(for example {word!r}): the file mixes encodings; save it in one encoding (UTF-8 is best) and import again",
        parameter="encoding",
    )


def _not_valid(name: str, data: bytes, exc: UnicodeDecodeError, encoding: str, guessed: bool = False):
    line = data.count(b"\n", 0, exc.start) + 1
    byte = data[exc.start : exc.start + 1].hex()
    how = "the encoding could not be detected" if guessed else f"it is not valid {encoding}"
    return FileFormatError(
        f"{name}:{line}: byte 0x{byte} cannot be read ({how}); "
        "pass `encoding` with the file's encoding, for example `encoding` cp1252",
        parameter="encoding",
    )
