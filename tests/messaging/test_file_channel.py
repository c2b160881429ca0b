"""The file channel: exact JSONL and CSV content (written out by hand), each key at most once, no torn lines.

The expected files are spelled out literally from the documented layouts; the duplicate and
concurrency tests count lines and keys in what is on disk.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
from datetime import UTC, datetime

import pytest

from retainly.errors import InputError
from retainly.messaging.channels import (
    Delivery,
    StoredPayload,
    delivery_record,
    make_channel,
    record_json,
    to_json,
)
from retainly.messaging.file_channel import FileChannel

FROZEN = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
FIRST = Delivery("winback/1/42/2024-05-01", "winback", 1, 42, "file", {"name": "Ольга", "offer": "10%, once"}, 0)
SECOND = Delivery("vip/2/7/2024-05-01", "vip", 2, 7, "file", {"text": 'Say "hi"'}, 1)


def file_channel(path):
    return FileChannel(path, clock=lambda: FROZEN)


def test_jsonl_lines_exactly(tmp_path):
    path = tmp_path / "out.jsonl"
    with file_channel(path) as channel:
        first, second = channel.deliver(FIRST), channel.deliver(SECOND)
    assert (first.status, first.detail) == ("sent", f"appended to {path}")
    assert second.status == "sent"
    assert path.read_text(encoding="utf-8") == (
        '{"key":"winback/1/42/2024-05-01","playbook":"winback","step":1,"customer_id":42,"channel":"file",'
        '"payload":{"name":"Ольга","offer":"10%, once"},"sent_at":"2024-05-01T10:00:00+00:00"}\n'
        '{"key":"vip/2/7/2024-05-01","playbook":"vip","step":2,"customer_id":7,"channel":"file",'
        '"payload":{"text":"Say \\"hi\\""},"sent_at":"2024-05-01T10:00:00+00:00"}\n'
    )


def test_csv_rows_exactly_with_one_header(tmp_path):
    path = tmp_path / "out.csv"
    with file_channel(path) as channel:
        channel.deliver(FIRST)
    with file_channel(path) as channel:  # a second opening appends without a second header
        channel.deliver(SECOND)
    assert path.read_text(encoding="utf-8") == (
        "key,playbook,step,customer_id,channel,sent_at,payload\n"
        'winback/1/42/2024-05-01,winback,1,42,file,2024-05-01T10:00:00+00:00,"{""name"":""Ольга"",""offer"":""10%, once""}"\n'
        'vip/2/7/2024-05-01,vip,2,7,file,2024-05-01T10:00:00+00:00,"{""text"":""Say \\""hi\\""""}"\n'
    )
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert json.loads(rows[1]["payload"]) == {"text": 'Say "hi"'}


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_stored_payload_is_written_as_the_same_text_as_its_value(tmp_path, suffix):
    # The outbox hands channels its stored JSON text (StoredPayload), which is spliced into the
    # line unparsed; the lines must equal those of the parsed values (the two tests above).
    stored = [d._replace(payload=StoredPayload(to_json(d.payload))) for d in (FIRST, SECOND)]
    with file_channel(tmp_path / f"values{suffix}") as channel:
        channel.deliver_many([FIRST, SECOND])
    with file_channel(tmp_path / f"stored{suffix}") as channel:
        channel.deliver_many(stored)
    assert (tmp_path / f"stored{suffix}").read_bytes() == (tmp_path / f"values{suffix}").read_bytes()
    assert stored[0].payload == FIRST.payload and stored[0].payload["name"] == "Ольга"
    assert record_json(stored[1], FROZEN) == to_json(delivery_record(SECOND, FROZEN))


def test_csv_header_written_into_an_existing_empty_file(tmp_path):
    path = tmp_path / "out.csv"
    path.touch()
    with file_channel(path) as channel:
        channel.deliver(SECOND)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "key,playbook,step,customer_id,channel,sent_at,payload"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


def test_csv_cells_a_spreadsheet_would_run_are_neutralised_and_keys_still_match(tmp_path):
    path = tmp_path / "out.csv"
    odd = Delivery("=cmd/1/1/x", "=cmd", 1, 1, "file", {}, 0)
    with file_channel(path) as channel:
        channel.deliver(odd)
    assert path.read_text(encoding="utf-8").splitlines()[1] == "'=cmd/1/1/x,'=cmd,1,1,file,2024-05-01T10:00:00+00:00,{}"
    with file_channel(path) as channel:
        assert channel.deliver(odd).detail == f"already in {path}"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_duplicate_key_never_written_twice(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    with file_channel(path) as channel:
        channel.deliver(FIRST)
        again = channel.deliver(FIRST)
    assert (again.status, again.detail) == ("sent", f"already in {path}")
    with file_channel(path) as reopened:  # a later run: the key is read back from the file
        assert reopened.deliver(FIRST).detail == f"already in {path}"
        assert reopened.deliver(SECOND).detail == f"appended to {path}"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == (2 if suffix == ".jsonl" else 3)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_two_channels_open_at_once_see_each_others_keys(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    with file_channel(path) as first, file_channel(path) as second:
        assert first.deliver(FIRST).detail == f"appended to {path}"
        assert second.deliver(FIRST).detail == f"already in {path}"  # appended after `second` opened
        assert second.deliver(SECOND).detail == f"appended to {path}"
        assert first.deliver(SECOND).detail == f"already in {path}"
    assert len(path.read_text(encoding="utf-8").splitlines()) == (2 if suffix == ".jsonl" else 3)


def test_a_torn_last_line_is_closed_before_appending(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"key":"old/1/1/x","playbook":"old"}\n{"key":"torn/1/1', encoding="utf-8")
    with file_channel(path) as channel:
        assert channel.deliver(Delivery("old/1/1/x", "old", 1, 1, "file", {}, 0)).detail.startswith("already in")
        assert channel.deliver(SECOND).status == "sent"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1] == '{"key":"torn/1/1'
    assert json.loads(lines[2])["key"] == SECOND.key
    assert len(lines) == 3


def test_payload_that_is_not_json_fails_and_writes_nothing(tmp_path):
    path = tmp_path / "out.jsonl"
    with file_channel(path) as channel:
        outcome = channel.deliver(Delivery("a/1/1/x", "a", 1, 1, "file", {"ratio": float("nan")}, 0))
    assert outcome.status == "failed" and outcome.detail.startswith("payload is not JSON")
    assert path.read_text(encoding="utf-8") == ""


def test_bad_paths_refused(tmp_path):
    with pytest.raises(InputError, match=r"must end in \.jsonl or \.csv"):
        FileChannel(tmp_path / "out.txt")
    with pytest.raises(InputError, match="does not exist"):
        FileChannel(tmp_path / "missing" / "out.jsonl")
    foreign = tmp_path / "theirs.csv"
    foreign.write_text("email,name\na@b.c,A\n", encoding="utf-8")
    with pytest.raises(InputError, match="CSV header"):
        FileChannel(foreign)


def test_make_channel_builds_a_file_channel(tmp_path):
    with make_channel("file", {"path": str(tmp_path / "out.jsonl")}) as channel:
        assert channel.name == "file"
        assert channel.deliver(FIRST).status == "sent"
    with pytest.raises(InputError, match="`path`"):
        make_channel("file", {})
    with pytest.raises(InputError, match="`url`"):
        make_channel("file", {"path": str(tmp_path / "x.csv"), "url": "https://x.test"})


# -- two processes at once -----------------------------------------------------------------------
# Appends to a local file in O_APPEND mode rarely interleave even unlocked, so the first race test
# guards the whole-line writes and the single CSV header; the second fails without the lock.
def _append(path: str, keys: list[str], start) -> None:
    start.wait(10)
    with FileChannel(path) as channel:
        for key in keys:
            channel.deliver(Delivery(key, "race", 1, 1, "file", {"text": "x" * 300, "key": key}, 0))


def _race(path, keys_a, keys_b):
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    start = context.Event()
    workers = [context.Process(target=_append, args=(str(path), keys, start)) for keys in (keys_a, keys_b)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_two_processes_appending_never_interleave(tmp_path, suffix):
    path = tmp_path / f"race{suffix}"
    _race(path, [f"a/1/{i}/x" for i in range(200)], [f"b/1/{i}/x" for i in range(200)])
    if suffix == ".jsonl":
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            records = [{**row, "payload": json.loads(row["payload"])} for row in csv.DictReader(handle)]
    assert len(records) == 400
    assert all(record["payload"]["key"] == record["key"] for record in records)
    assert len({record["key"] for record in records}) == 400


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_two_processes_delivering_the_same_keys_write_each_once(tmp_path, suffix):
    # Without the lock this fails: both processes check a key before either has appended it.
    path = tmp_path / f"race{suffix}"
    keys = [f"same/1/{i}/x" for i in range(150)]
    _race(path, keys, list(reversed(keys)))
    if suffix == ".jsonl":
        written = [json.loads(line)["key"] for line in path.read_text(encoding="utf-8").splitlines()]
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            written = [row["key"] for row in csv.DictReader(handle)]
    assert sorted(written) == sorted(keys)


def test_a_batch_is_one_append_with_each_key_once_and_a_bad_payload_failed_alone(tmp_path):
    path = tmp_path / "out.jsonl"
    bad = Delivery("vip/1/9/2024-05-01", "vip", 1, 9, "file", {"when": object()}, 0)
    with file_channel(path) as channel:
        channel.deliver(SECOND)  # already in the file before the batch
        outcomes = channel.deliver_many([FIRST, bad, SECOND, FIRST])
    assert [(o.status, o.detail.split(" ")[0]) for o in outcomes] == [
        ("sent", "appended"), ("failed", "payload"), ("sent", "already"), ("sent", "already")]
    keys = [json.loads(line)["key"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert keys == [SECOND.key, FIRST.key]  # the batch's one new key appended once, after the earlier line


def test_keys_read_at_opening_are_those_a_full_parse_finds(tmp_path):
    """Opening reads the key of each line it wrote without parsing the rest of the line; the keys
    must be exactly those json.loads finds (the independent reading): escapes in keys, a torn line
    that starts like one of ours, a line of ours cut just before its end, a foreign line with the
    key elsewhere, and a foreign line with a key that is not text."""
    path = tmp_path / "out.jsonl"
    escaped = Delivery('odd/1/3/"quoted" \\ back\u00e9', "odd", 1, 3, "file", StoredPayload('{"a":"}\\""}'), 0)
    with file_channel(path) as channel:
        channel.deliver_many([FIRST, escaped])
    whole = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([
        *whole,
        whole[0].replace(FIRST.key, "cut/1/1/x")[:-1],  # one of ours without its closing brace: not JSON
        whole[0].replace(FIRST.key, "torn/1/1/x")[:60],  # torn after its key
        '{"playbook":"x","key":"foreign/1/1/x"}',
        '{"key":12,"sent_at":"2024-05-01T10:00:00+00:00"}',
    ]) + "\n", encoding="utf-8")

    def parsed(line):
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return record.get("key") if isinstance(record, dict) and isinstance(record.get("key"), str) else None

    expected = {key for line in path.read_text(encoding="utf-8").splitlines() if (key := parsed(line))}
    assert expected == {FIRST.key, escaped.key, "foreign/1/1/x"}
    with file_channel(path) as channel:
        assert channel._keys == expected
        assert channel.deliver(escaped).detail == f"already in {path}"
