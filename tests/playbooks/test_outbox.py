"""The outbox on DuckDB and PostgreSQL: keys written once, claims, outcomes, retries, recovery,
the gate's decisions, missing channels and channels that raise.

Expected values are worked out by hand from the rules in retainly.playbooks.outbox: the
priority/due/key order of claims, the retry delays (300, 1800, 7200 s after attempts 1, 2, 3;
failed after the 4th), and the lease of ``recover`` ("more than lease_seconds ago").
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from retainly.errors import InputError
from retainly.messaging.channels import Delivery, Outcome
from retainly.messaging.file_channel import FileChannel
from retainly.playbooks import delivery, outbox
from retainly.playbooks.outbox import OutboxEntry

T0 = datetime(2024, 3, 1, 9, 0, 0)


def entry(customer_id: int, *, playbook: str = "winback", step: int = 1, priority: int = 10,
          due_at: datetime = T0, channel: str = "webhook", occurrence: str = "2024-03-01") -> OutboxEntry:
    return OutboxEntry(playbook, step, customer_id, occurrence, channel, priority, due_at,
                       {"customer": customer_id, "text": "we miss you", "when": due_at.date()})


def status_of(store, key: str) -> tuple:
    return store.fetchone("SELECT status, attempts, due_at, reason, claimed_by FROM outbox WHERE key = ?", (key,))


class Recorder:
    """A channel that answers from a script per customer and records every delivery it saw."""

    def __init__(self, name: str = "webhook", answers: dict | None = None):
        self.name = name
        self.answers = answers or {}
        self.seen: list[Delivery] = []

    def deliver(self, delivery: Delivery) -> Outcome:
        self.seen.append(delivery)
        answer = self.answers.get(delivery.customer_id, Outcome("sent", "HTTP 200 OK"))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def close(self) -> None:
        pass


def test_writing_the_same_entries_twice_inserts_them_once(workspace):
    store = workspace.store
    entries = [entry(1), entry(2), entry(1, priority=99)]  # the third repeats the first key
    assert outbox.write(store, entries, run_id=7) == 2
    assert outbox.write(store, entries, run_id=8) == 0
    assert outbox.write(store, [entry(3)], run_id=8) == 1
    assert outbox.write(store, [], run_id=9) == 0
    assert store.fetchone("SELECT COUNT(*) FROM outbox")[0] == 3
    [row] = outbox.rows(store, playbook="winback", status="queued", limit=100)[2:]  # newest first: 3, then 1, 2
    assert row["key"] == "winback/1/2/2024-03-01"
    stored = store.fetchone("SELECT priority, run_id, attempts, status FROM outbox WHERE key = 'winback/1/1/2024-03-01'")
    assert stored == (10, 7, 0, "queued")  # the first copy of a repeated key wins
    assert row["payload"] == {"customer": 2, "text": "we miss you", "when": "2024-03-01"}
    assert row["due_at"] == T0


def test_write_refuses_what_would_break_a_key(workspace):
    with pytest.raises(InputError, match="playbook name 'a/b'"):
        outbox.write(workspace.store, [entry(1, playbook="a/b")], run_id=1)
    with pytest.raises(InputError, match="entries are written queued, suppressed or skipped, not .sent."):
        outbox.write(workspace.store, [OutboxEntry("p", 1, 1, "o", "webhook", 1, T0, {}, status="sent")], run_id=1)
    assert workspace.store.fetchone("SELECT COUNT(*) FROM outbox")[0] == 0


def test_claims_take_due_rows_by_priority_then_due_then_key_and_never_twice(workspace):
    store = workspace.store
    outbox.write(store, [
        entry(1, priority=5), entry(2, priority=50, due_at=T0 - timedelta(hours=1)), entry(3, priority=50),
        entry(4, priority=90, due_at=T0 + timedelta(seconds=1)),  # not due yet
        entry(5, priority=5, due_at=T0 - timedelta(days=1)),
    ], run_id=1)
    first = outbox.claim(store, T0, "run-a", limit=3)
    # priority 50 twice (earlier due first), then priority 5 with the earliest due (customer 5).
    assert [d.customer_id for d in first] == [2, 3, 5]
    assert all(d.attempts == 0 for d in first)  # no delivery was tried before this one
    assert first[0].payload == {"customer": 2, "text": "we miss you", "when": "2024-03-01"}  # due an hour before T0: same day
    assert status_of(store, first[0].key)[:2] == ("sending", 1)
    second = outbox.claim(store, T0, "run-b", limit=10)
    assert [d.customer_id for d in second] == [1]
    assert outbox.claim(store, T0, "run-c") == []
    later = outbox.claim(store, T0 + timedelta(seconds=1), "run-c")
    assert [d.customer_id for d in later] == [4]


def test_finish_records_sent_and_failed_only_for_the_holder(workspace):
    store = workspace.store
    outbox.write(store, [entry(1), entry(2)], run_id=1)
    one, two = outbox.claim(store, T0, "run-a")
    assert outbox.finish(store, one.key, "run-b", Outcome("sent", "HTTP 200"), T0) is None  # not run-b's row
    assert outbox.finish(store, one.key, "run-a", Outcome("sent", "HTTP 200 OK"), T0) == "sent"
    assert outbox.finish(store, one.key, "run-a", Outcome("sent", "again"), T0) is None  # already finished
    assert outbox.finish(store, two.key, "run-a", Outcome("failed", "HTTP 404 Not Found"), T0) == "failed"
    assert store.fetchall("SELECT status, response, reason, finished_at FROM outbox ORDER BY key") == [
        ("sent", "HTTP 200 OK", None, T0), ("failed", "HTTP 404 Not Found", "HTTP 404 Not Found", T0)]


def test_retries_back_off_and_fail_after_max_attempts(workspace):
    store = workspace.store
    outbox.write(store, [entry(1)], run_id=1)
    key = entry(1).key
    now = T0
    # Hand-computed: after attempt 1 wait 300 s, after 2 wait 1800 s, after 3 wait 7200 s, the 4th is the last.
    for attempt, delay in ((1, 300), (2, 1800), (3, 7200)):
        [delivery] = outbox.claim(store, now, "run")
        assert delivery.attempts == attempt - 1
        assert outbox.finish(store, key, "run", Outcome("retry", "HTTP 503"), now) == "queued"
        status, attempts, due_at, reason, _ = status_of(store, key)
        assert (status, attempts, due_at) == ("queued", attempt, now + timedelta(seconds=delay))
        assert reason.startswith(f"attempt {attempt} of 4 failed")
        assert outbox.claim(store, due_at - timedelta(seconds=1), "run") == []  # not due before its time
        now = due_at
    [delivery] = outbox.claim(store, now, "run")
    assert outbox.finish(store, key, "run", Outcome("retry", "HTTP 503"), now) == "failed"
    assert status_of(store, key)[:2] == ("failed", 4)
    assert status_of(store, key)[3] == "gave up after 4 attempts"


def test_releasing_and_finishing_thousands_of_a_claims_rows_changes_exactly_those(workspace):
    """More keys than one statement lists (1,000) take the staged path: of 3,700 claimed rows,
    1,200 deferred, 700 suppressed, 1,100 retried (their attempts read by key) and 700 sent;
    a row of another claimer is left alone. Retry delay after attempt 1: 300 s (by hand)."""
    store = workspace.store
    outbox.write(store, [entry(c) for c in range(3701)], run_id=1)
    claimed = outbox.claim(store, T0, "run", limit=3700)
    assert len(claimed) == 3700
    other = outbox.claim(store, T0, "other", limit=10)
    keys = [d.key for d in claimed]
    later = T0 + timedelta(days=1)
    deferred = outbox.release_many(store, [(k, "queued", "capped", later) for k in keys[:1200]], "run")
    suppressed = outbox.release_many(store, [(k, "suppressed", "no consent", None) for k in keys[1200:1900]], "run",
                                     now=T0)
    retried = outbox.finish_many(store, [(k, Outcome("retry", "HTTP 503")) for k in keys[1900:3000]], "run", T0)
    sent = outbox.finish_many(store, [(k, Outcome("sent", "ok")) for k in keys[3000:]], "run", T0)
    assert all(deferred.values()) and all(suppressed.values())
    assert set(retried.values()) == {"queued"} and set(sent.values()) == {"sent"}
    statuses = dict(store.fetchall("SELECT key, status FROM outbox"))
    assert [statuses[k] for k in keys[:1200]] == ["queued"] * 1200
    assert [statuses[k] for k in keys[1200:1900]] == ["suppressed"] * 700
    assert [statuses[k] for k in keys[1900:3000]] == ["queued"] * 1100
    assert [statuses[k] for k in keys[3000:]] == ["sent"] * 700
    assert statuses[other[0].key] == "sending"
    assert store.fetchone("SELECT COUNT(*) FROM outbox WHERE due_at = ? AND reason = 'capped'", (later,))[0] == 1200
    assert store.fetchone("SELECT COUNT(*) FROM outbox WHERE due_at = ? AND attempts = 1",
                          (T0 + timedelta(seconds=300),))[0] == 1100


def test_recover_settles_a_file_channels_stale_rows_from_its_file(workspace, tmp_path):
    """A killed run left three file rows and a webhook row claimed; the file received one of
    them before the kill. The next run's recover marks that one sent, queues the other two again
    (their claim's attempt taken back) and leaves the webhook row unknown; delivering then writes
    the two, so the file holds each key once."""
    store = workspace.store
    rows = [entry(1, channel="file"), entry(2, channel="file"), entry(3, channel="file"), entry(4)]
    outbox.write(store, rows, run_id=1)
    claimed = outbox.claim(store, T0, "killed", limit=4)
    assert len(claimed) == 4
    path = tmp_path / "actions.jsonl"
    with FileChannel(path) as before_the_kill:
        before_the_kill.deliver(next(d for d in claimed if d.customer_id == 2))
    with FileChannel(path) as file:
        assert file.holds([r.key for r in rows]) == {rows[1].key}
        assert outbox.recover(store, T0 + timedelta(seconds=901), lease_seconds=900,
                              channels={"file": file, "webhook": Recorder()}) == 1  # the webhook row
        assert [status_of(store, r.key)[:2] for r in rows] == [("queued", 0), ("sent", 1), ("queued", 0),
                                                               ("unknown", 1)]
        assert "found in channel 'file'" in store.fetchone("SELECT response FROM outbox WHERE key = ?",
                                                             (rows[1].key,))[0]
        counts = delivery.deliver_due(store, {"file": file}, T0 + timedelta(seconds=902), "rerun")
    assert counts["sent"] == 2
    keys = [json.loads(line)["key"] for line in path.read_text().splitlines()]
    assert sorted(keys) == sorted(r.key for r in rows[:3])
    assert [status_of(store, r.key)[0] for r in rows] == ["sent", "sent", "sent", "unknown"]


def test_recover_marks_stale_sending_rows_unknown_and_they_are_never_claimed_again(workspace):
    store = workspace.store
    outbox.write(store, [entry(1), entry(2), entry(3)], run_id=1)
    outbox.claim(store, T0, "crashed", limit=2)
    assert outbox.recover(store, T0 + timedelta(seconds=900), lease_seconds=900) == 0  # exactly the lease: not more
    assert outbox.recover(store, T0 + timedelta(seconds=901), lease_seconds=900) == 2
    assert [s for (s,) in store.fetchall("SELECT status FROM outbox ORDER BY key")] == ["unknown", "unknown", "queued"]
    later = T0 + timedelta(days=1)
    assert [d.customer_id for d in outbox.claim(store, later, "rerun")] == [3]
    assert outbox.abandon(store, "rerun", later) == 1
    assert status_of(store, entry(3).key)[0] == "unknown"
    assert outbox.claim(store, later, "again") == []
    assert outbox.finish(store, entry(1).key, "crashed", Outcome("sent", "late"), later) is None  # claim lost


def test_gate_decisions_suppress_skip_defer_or_send(workspace):
    store = workspace.store
    outbox.write(store, [entry(c) for c in (1, 2, 3, 4)], run_id=1)
    until = T0 + timedelta(hours=2)
    decisions = {1: ("suppressed", "unsubscribed"), 2: ("skipped", "condition no longer holds"), 3: ("defer", until)}
    channel = Recorder()
    counts = delivery.deliver_due(store, {"webhook": channel}, T0, "run", gate=lambda d: decisions.get(d.customer_id))
    assert [d.customer_id for d in channel.seen] == [4]
    assert counts == {"sent": 1, "failed": 0, "queued": 1, "unknown": 0, "suppressed": 1, "skipped": 1}
    assert status_of(store, entry(1).key)[:4] == ("suppressed", 0, T0, "unsubscribed")
    assert status_of(store, entry(2).key)[:4] == ("skipped", 0, T0, "condition no longer holds")
    assert status_of(store, entry(3).key)[:4] == ("queued", 0, until, "capped until 2024-03-01 11:00")
    # At its new time the deferred row goes (this gate lets everything through).
    counts = delivery.deliver_due(store, {"webhook": channel}, until, "run2")
    assert [d.customer_id for d in channel.seen] == [4, 3] and counts["sent"] == 1


def test_a_missing_channel_fails_its_rows_naming_the_settings_and_others_go_on(workspace):
    store = workspace.store
    outbox.write(store, [entry(1, channel="sms"), entry(2)], run_id=1)
    channel = Recorder()
    counts = delivery.deliver_due(store, {"webhook": channel}, T0, "run")
    assert (counts["failed"], counts["sent"]) == (1, 1)
    status, _, _, reason, _ = status_of(store, entry(1, channel="sms").key)
    assert status == "failed" and "no channel 'sms' is configured" in reason and "[channels.sms]" in reason


def test_a_channel_that_raises_leaves_its_row_unknown_not_retried(workspace):
    store = workspace.store
    outbox.write(store, [entry(1), entry(2), entry(3)], run_id=1)
    channel = Recorder(answers={2: RuntimeError("socket closed\nafter the body was written")})
    counts = delivery.deliver_due(store, {"webhook": channel}, T0, "run")
    assert (counts["sent"], counts["unknown"]) == (2, 1)
    status, _, _, reason, _ = status_of(store, entry(2).key)
    assert status == "unknown" and reason == "channel 'webhook' raised RuntimeError: socket closed after the body was written"
    delivery.deliver_due(store, {"webhook": channel}, T0 + timedelta(days=30), "rerun")
    assert sorted(d.customer_id for d in channel.seen) == [1, 2, 3]  # nothing sent twice


def test_retry_and_failed_outcomes_through_the_loop(workspace):
    store = workspace.store
    outbox.write(store, [entry(1), entry(2)], run_id=1)
    channel = Recorder(answers={1: Outcome("retry", "HTTP 503"), 2: Outcome("failed", "HTTP 400")})
    counts = delivery.deliver_due(store, {"webhook": channel}, T0, "run")
    # The retried row is due 300 s later, so the loop does not take it again now.
    assert (counts["queued"], counts["failed"], len(channel.seen)) == (1, 1, 2)
    assert status_of(store, entry(1).key)[:3] == ("queued", 1, T0 + timedelta(seconds=300))
    channel.answers = {}
    counts = delivery.deliver_due(store, {"webhook": channel}, T0 + timedelta(seconds=300), "run2")
    assert counts["sent"] == 1 and channel.seen[-1].attempts == 1


def test_an_error_in_the_gate_queues_the_batch_again_and_nothing_is_sent(workspace):
    store = workspace.store
    outbox.write(store, [entry(1), entry(2), entry(3)], run_id=1)

    def broken_gate(d):
        if d.customer_id == 2:
            raise ValueError("the gate has a bug")
        return None

    channel = Recorder()
    with pytest.raises(ValueError, match="the gate has a bug"):
        delivery.deliver_due(store, {"webhook": channel}, T0, "run", gate=broken_gate)
    # The gate decides a whole batch before any channel sees it, so no row of it was sent.
    assert channel.seen == []
    assert [(s, a) for s, a in store.fetchall("SELECT status, attempts FROM outbox ORDER BY key")] == [
        ("queued", 0), ("queued", 0), ("queued", 0)]
    with pytest.raises(InputError, match="later than"):
        delivery.deliver_due(store, {"webhook": channel}, T0, "run", gate=lambda d: ("defer", T0))
    assert store.fetchone("SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts = 0")[0] == 3
    # With batches of one, the row before the faulty one went before the gate failed.
    with pytest.raises(ValueError, match="the gate has a bug"):
        delivery.deliver_due(store, {"webhook": channel}, T0, "run", gate=broken_gate, batch=1)
    assert [d.customer_id for d in channel.seen] == [1]
    assert [(s, a) for s, a in store.fetchall("SELECT status, attempts FROM outbox ORDER BY key")] == [
        ("sent", 1), ("queued", 0), ("queued", 0)]


def test_an_interrupt_while_sending_leaves_that_row_unknown_and_the_rest_queued(workspace):
    store = workspace.store
    outbox.write(store, [entry(1), entry(2), entry(3)], run_id=1)
    channel = Recorder(answers={2: KeyboardInterrupt()})
    with pytest.raises(KeyboardInterrupt):
        delivery.deliver_due(store, {"webhook": channel}, T0, "run")
    assert [s for (s,) in store.fetchall("SELECT status FROM outbox ORDER BY key")] == ["sent", "unknown", "queued"]


def test_release_rules(workspace):
    store = workspace.store
    outbox.write(store, [entry(1), entry(2)], run_id=1)
    one, two = outbox.claim(store, T0, "run")
    with pytest.raises(InputError, match="needs a `reason`"):
        outbox.release(store, one.key, "run", "suppressed", "")
    with pytest.raises(InputError, match="cannot release"):
        outbox.release(store, one.key, "run", "sent", "x")
    assert outbox.release(store, one.key, "someone-else", "skipped", "x") is False
    assert outbox.release(store, one.key, "run", "queued", None) is True
    assert status_of(store, one.key)[:3] == ("queued", 0, T0)  # due_at kept, attempt taken back


def test_times_with_a_zone_are_stored_as_utc(workspace):
    store = workspace.store
    paris = timezone(timedelta(hours=1))
    outbox.write(store, [entry(1, due_at=datetime(2024, 3, 1, 10, 0, tzinfo=paris))], run_id=1)
    assert status_of(store, entry(1).key)[2] == T0
    assert len(outbox.claim(store, datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc), "run")) == 1


def test_summary_and_rows(workspace):
    store = workspace.store
    outbox.write(store, [entry(1), entry(2), entry(3, channel="sms"), entry(1, playbook="vip")], run_id=1)
    delivery.deliver_due(store, {"webhook": Recorder()}, T0, "run", gate=lambda d: ("skipped", "x")
                       if d.playbook == "vip" else None)
    assert outbox.summary(store) == [("vip", "webhook", "skipped", 1), ("winback", "sms", "failed", 1),
                                     ("winback", "webhook", "sent", 2)]
    assert outbox.summary(store, playbook="vip") == [("vip", "webhook", "skipped", 1)]
    assert [r["key"] for r in outbox.rows(store, status="sent", limit=1)] == ["winback/1/1/2024-03-01"]
    with pytest.raises(InputError, match="unknown outbox `status`"):
        outbox.rows(store, status="done")
    with pytest.raises(InputError, match="`limit`"):
        outbox.rows(store, limit=0)


class BatchRecorder(Recorder):
    """A channel that takes a claimed batch at once (as the file channel does)."""

    batch_size = 2

    def __init__(self, fail: BaseException | None = None):
        super().__init__()
        self.batches: list[list[int]] = []
        self.fail = fail

    def deliver_many(self, deliveries):
        self.batches.append([d.customer_id for d in deliveries])
        if self.fail is not None:
            raise self.fail
        return [self.deliver(d) for d in deliveries]


def test_a_batch_channel_gets_its_batch_size_at_once_and_a_raise_leaves_the_batch_unknown(workspace):
    store = workspace.store
    outbox.write(store, [entry(c) for c in (1, 2, 3, 4, 5)], run_id=1)
    channel = BatchRecorder()
    counts = delivery.deliver_due(store, {"webhook": channel}, T0, "run",
                                  gate=lambda d: ("skipped", "x") if d.customer_id == 2 else None)
    # Batches of two claimed rows; the gated row never reaches the channel.
    assert channel.batches == [[1], [3, 4], [5]]
    assert (counts["sent"], counts["skipped"]) == (4, 1)
    outbox.write(store, [entry(c, occurrence="later") for c in (6, 7)], run_id=2)
    broken = BatchRecorder(fail=RuntimeError("disk full"))
    counts = delivery.deliver_due(store, {"webhook": broken}, T0, "run2")
    assert counts["unknown"] == 2 and broken.batches == [[6, 7]]
    assert {r for (r,) in store.fetchall("SELECT reason FROM outbox WHERE status = 'unknown'")} == {
        "channel 'webhook' raised RuntimeError: disk full"}


def test_finishing_many_records_each_outcome_as_finish_would(workspace):
    store = workspace.store
    outbox.write(store, [entry(c) for c in (1, 2, 3, 4)], run_id=1)
    claimed = outbox.claim(store, T0, "run")
    done = outbox.finish_many(store, [(claimed[0].key, Outcome("sent", "ok")), (claimed[1].key, Outcome("failed", "HTTP 400")),
                                      (claimed[2].key, Outcome("retry", "HTTP 503"))], "run", T0)
    assert done == {claimed[0].key: "sent", claimed[1].key: "failed", claimed[2].key: "queued"}
    assert status_of(store, claimed[2].key)[:3] == ("queued", 1, T0 + timedelta(seconds=300))  # as finish(): 300 s
    assert outbox.finish_many(store, [(claimed[0].key, Outcome("sent", "again"))], "run", T0) == {claimed[0].key: None}
    assert status_of(store, claimed[3].key)[0] == "sending"  # not in the call: untouched



def test_finishing_a_whole_claim_records_only_the_rows_still_held(workspace):
    # The delivery loop's fast path (whole_claim): one update by claimer, its count checked. Two
    # of three claimed rows were marked unknown meanwhile: only the third is recorded sent.
    store = workspace.store
    outbox.write(store, [entry(c) for c in (1, 2, 3)], run_id=1)
    claimed = outbox.claim(store, T0, "run-1/1")
    store.execute("UPDATE outbox SET status = 'unknown' WHERE key IN (?, ?)", (claimed[0].key, claimed[1].key))
    done = outbox.finish_many(store, [(d.key, Outcome("sent", "ok")) for d in claimed], "run-1/1", T0, whole_claim=True)
    assert done == {claimed[0].key: None, claimed[1].key: None, claimed[2].key: "sent"}
    assert [status_of(store, d.key)[0] for d in claimed] == ["unknown", "unknown", "sent"]
    # All still held: all recorded, as without the fast path.
    outbox.write(store, [entry(c) for c in (4, 5)], run_id=2)
    again = outbox.claim(store, T0, "run-2/1")
    assert outbox.finish_many(store, [(d.key, Outcome("retry", "HTTP 503")) for d in again], "run-2/1", T0,
                              whole_claim=True) == dict.fromkeys([d.key for d in again], "queued")
    assert [status_of(store, d.key)[:3] for d in again] == [("queued", 1, T0 + timedelta(seconds=300))] * 2


def test_abandon_marks_the_run_and_its_batches_rows_unknown_and_no_one_elses(workspace):
    store = workspace.store
    outbox.write(store, [entry(c) for c in (1, 2, 3, 4)], run_id=1)
    window = {due.delivery.key: due for due in outbox.due_window(store, T0, 10)}
    for claimer, key in (("run-9", entry(1).key), ("run-9/1", entry(2).key), ("run-90/1", entry(3).key)):
        outbox.claim_due(store, T0, claimer, "webhook", [window[key]])
    # run-9 itself and its batch run-9/1; not run-90's batch, and not the unclaimed row 4.
    assert outbox.abandon(store, "run-9", now=T0) == 2
    assert [status_of(store, entry(c).key)[0] for c in (1, 2, 3, 4)] == ["unknown", "unknown", "sending", "queued"]


def test_claim_due_claims_the_window_rows_asked_for_and_returns_exactly_what_it_holds(workspace):
    store = workspace.store
    outbox.write(store, [entry(1, priority=5), entry(2, priority=9), entry(3), entry(4, channel="sms"),
                         entry(5, due_at=T0 + timedelta(hours=1))], run_id=1)
    window = outbox.due_window(store, T0, 10)
    # By hand: due at T0 are 1-4 (5 is an hour later); priority 10 (3, 4 by key), then 9 (2), then 5 (1).
    assert [due.delivery.customer_id for due in window] == [3, 4, 2, 1]
    assert {due.delivery.payload for due in window} == {None}  # read by the claim
    by_customer = {due.delivery.customer_id: due for due in window}
    outbox.claim(store, T0, "someone-else", limit=1)  # takes customer 3's row meanwhile (first in order)
    claimed = outbox.claim_due(store, T0, "batch-1", "webhook", [by_customer[c] for c in (2, 3, 1)])
    # 3 was taken by someone else: left out; 2 and 1 in the order asked, each tried 0 times before.
    assert [(d.customer_id, d.attempts) for d in claimed] == [(2, 0), (1, 0)]
    assert [d.payload for d in claimed] == [{"customer": c, "text": "we miss you", "when": "2024-03-01"} for c in (2, 1)]
    assert [status_of(store, entry(c).key)[0] for c in (1, 2, 3)] == ["sending"] * 3
    assert status_of(store, entry(1).key)[4] == "batch-1"
    # An sms row asked for as a webhook row is not claimed (the channel is checked again).
    assert outbox.claim_due(store, T0, "batch-2", "webhook", [by_customer[4]]) == []
    assert status_of(store, entry(4).key)[0] == "queued"
    assert outbox.claim_due(store, T0, "batch-3", "sms", []) == []


def test_claim_due_delivers_a_row_it_was_not_asked_for_when_an_address_now_points_there(workspace):
    # A row's address may in principle move; whatever the claim took is due, queued and of the
    # channel, and it is returned (read in full), so no claimed row is left without a delivery.
    store = workspace.store
    outbox.write(store, [entry(1), entry(2)], run_id=1)
    one, two = outbox.due_window(store, T0, 10)
    moved = outbox.Due(two.address, one.delivery)  # row 1's delivery at row 2's address
    claimed = outbox.claim_due(store, T0, "batch-1", "webhook", [moved])
    assert [(d.key, d.customer_id, d.attempts) for d in claimed] == [(two.delivery.key, 2, 0)]
    assert claimed[0].payload == {"customer": 2, "text": "we miss you", "when": "2024-03-01"}
    assert status_of(store, one.delivery.key)[0] == "queued"
