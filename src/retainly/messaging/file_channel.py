"""The file channel: each delivery appended as a line to a JSONL or CSV file, at most once per key.

For a shop that sends through its own tool: it reads the file (or tails it) and acts.

* ``.jsonl``: one JSON object a line, the webhook's body:
  ``{"key", "playbook", "step", "customer_id", "channel", "payload", "sent_at"}``.
* ``.csv``: the columns ``key, playbook, step, customer_id, channel, sent_at, payload`` (the
  payload as JSON text), the header written once when the file is new or empty; UTF-8,
  ``\\n`` line ends, cells passed through ``csv_cells.neutralise_cell`` like every CSV
  retainly writes (so a spreadsheet never runs one).

**At most once per key.** The keys already in the file are read when the channel opens and
kept in a set; a delivery whose key is there is answered ``sent`` ("already in ...") without
writing. So when the process dies between the append and the outbox's update, a rerun finds
the line and does not write a second; and the outbox asks the file (``holds``) which of the
rows a killed run left claimed it received, so none is lost either. Each append holds an
exclusive ``flock`` on the file, first reads whatever other writers (processes, other channel
objects) appended since, then writes the whole line (or a batch of lines, ``deliver_many``) and
flushes and fsyncs it: two writers never interleave, and a key another writer has just
appended is seen. A torn last line
(a writer killed mid-write) is closed with a line end first, so it never glues onto the next
line; it holds no usable key.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import re
from contextlib import contextmanager
from json.decoder import scanstring
from pathlib import Path
from typing import Self

from retainly.csv_cells import neutralise_cell, restore_cell
from retainly.errors import InputError
from retainly.messaging.channels import (
    FAILED,
    SENT,
    Clock,
    Delivery,
    Outcome,
    delivery_record,
    one_line,
    payload_json,
    record_json,
    sent_at_text,
    utc_now,
)

FORMATS = (".jsonl", ".csv")
CSV_COLUMNS = ("key", "playbook", "step", "customer_id", "channel", "sent_at", "payload")


class FileChannel:
    """Appends deliveries to ``path`` (``.jsonl`` or ``.csv``), never the same key twice."""

    # Rows the delivery loop claims at once for this channel (one append, one fsync): a whole
    # window of due rows, since each batch costs a claim and a finish (at 1 M rows, batches of
    # 10,000 spent three times as long claiming as batches of 100,000). A kill loses none of
    # them: the file is the record of what was delivered (``holds``), so the next run's
    # ``outbox.recover`` marks the rows found in it sent and queues the others again.
    batch_size = 100_000

    def __init__(self, path: str | os.PathLike, *, name: str = "file", clock: Clock = utc_now):
        self.path = Path(path)
        self.name = name
        self.format = self.path.suffix.lower()
        if self.format not in FORMATS:
            raise InputError(
                f"channel {name!r}: `path` {str(path)!r} must end in .jsonl or .csv (the suffix picks the format)",
                parameter="path",
            )
        if not self.path.parent.is_dir():
            raise InputError(
                f"channel {name!r}: the folder of `path` {str(path)!r} does not exist; create it first",
                parameter="path",
            )
        self._clock = clock
        created = not self.path.exists()
        # Append mode: every write lands at the end whatever the read position; reads catch up.
        self._file = open(self.path, "a+b")  # noqa: SIM115 - kept open until close()
        if created:
            _fsync_folder(self.path.parent)
        self._keys: set[str] = set()
        self._read_to = 0  # bytes of the file whose keys are in self._keys
        with self._locked():
            self._catch_up()

    def deliver(self, delivery: Delivery) -> Outcome:
        return self.deliver_many([delivery])[0]

    def deliver_many(self, deliveries: list[Delivery]) -> list[Outcome]:
        """Append ``deliveries`` under one lock with one flush and fsync; their outcomes, in order."""
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        lines: list[tuple[int, str]] = []
        sent_at = sent_at_text(self._clock())  # one time for the batch, written once
        for index, delivery in enumerate(deliveries):
            try:
                lines.append((index, self._line(delivery, sent_at)))
            except (TypeError, ValueError) as error:
                outcomes[index] = Outcome(FAILED, one_line(f"payload is not JSON: {error}"))
        already, appended = Outcome(SENT, f"already in {self.path}"), Outcome(SENT, f"appended to {self.path}")
        with self._locked():
            self._catch_up()
            data = []
            for index, line in lines:
                key = deliveries[index].key
                if key in self._keys:
                    outcomes[index] = already
                    continue
                self._keys.add(key)
                data.append(line)
                outcomes[index] = appended
            if data:
                size = self._file.seek(0, os.SEEK_END)
                if size == 0 and self.format == ".csv":
                    data.insert(0, _csv_text([CSV_COLUMNS]))
                elif size and not self._ends_with_newline(size):
                    data.insert(0, "\n")
                self._file.write("".join(data).encode("utf-8"))
                self._file.flush()
                os.fsync(self._file.fileno())
                self._read_to = self._file.seek(0, os.SEEK_END)
        return outcomes

    def holds(self, keys) -> set[str]:
        """The ``keys`` already in the file (appended by anyone, up to now)."""
        with self._locked():
            self._catch_up()
        return {key for key in keys if key in self._keys}

    def _line(self, delivery: Delivery, sent_at: str) -> str:
        if self.format == ".jsonl":
            return record_json(delivery, sent_at) + "\n"
        cells = {**delivery_record(delivery, sent_at), "payload": payload_json(delivery.payload)}
        return _csv_text([[neutralise_cell(cells[column]) for column in CSV_COLUMNS]])

    def _catch_up(self) -> None:
        """Add the keys of whatever was appended since the last read (by anyone) to the set."""
        self._file.seek(self._read_to)
        chunk = self._file.read()
        if not chunk:
            return
        # Only complete lines count: a torn tail is re-read (and then closed) on the next append.
        end = chunk.rfind(b"\n") + 1
        text = chunk[:end].decode("utf-8", errors="replace")
        if self.format == ".jsonl":
            self._keys.update(_jsonl_keys(text))
        else:
            self._keys.update(_csv_keys(text, self._read_to == 0, self.path))
        self._read_to += end

    def _ends_with_newline(self, size: int) -> bool:
        self._file.seek(size - 1)
        return self._file.read(1) == b"\n"

    @contextmanager
    def _locked(self):
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


# A whole line as record_json writes it: the key first, the time of sending last.
_OWN_LINE_END = re.compile(r',"sent_at":"[0-9T:.+\-]+"\}\Z')


def _jsonl_keys(text: str) -> list[str]:
    """The keys of the complete JSON lines of ``text``. A line this channel wrote (the key first,
    ``sent_at`` closing it) gives its key without parsing the rest: a file holds a line per message
    ever sent, all read when the channel opens. Any other line is parsed whole."""
    keys = []
    for line in text.splitlines():
        try:
            if line.startswith('{"key":"') and _OWN_LINE_END.search(line):
                keys.append(scanstring(line, 8)[0])
                continue
            record = json.loads(line)
        except ValueError:
            continue  # a torn or foreign line holds no key
        if isinstance(record, dict) and isinstance(record.get("key"), str):
            keys.append(record["key"])
    return keys


def _csv_keys(text: str, from_start: bool, path: Path) -> list[str]:
    rows = csv.reader(io.StringIO(text))
    if from_start:
        header = next(rows, None)
        if header is not None and tuple(header) != CSV_COLUMNS:
            # A file of someone else's layout: its first column is not our key.
            raise InputError(
                f"{path}: the CSV header is {','.join(header)!r}, not {','.join(CSV_COLUMNS)!r}; "
                "point `path` at a new file or one this channel wrote",
                parameter="path",
            )
    return [restore_cell(row[0]) for row in rows if row]


def _fsync_folder(folder: Path) -> None:
    """Make a new file's name durable too (its folder entry), where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the file's own fsync still holds
    finally:
        os.close(fd)
