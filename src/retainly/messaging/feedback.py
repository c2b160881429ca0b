"""Answers to the feedback question of an email: a score from 0 to 10 and an optional comment.

An answer is an interaction of the customer (``kind`` feedback, ``direction`` inbound,
``outcome`` the score, ``note`` the comment, ``by_whom`` "email link"), so it feeds what
contacts feed: the customer's page, the ``last_feedback_score`` audience field, and the churn
warning signs (a score of 6 or less is a negative contact: an NPS detractor). One answer per
message: answering again replaces it (a customer who changes their mind), in one transaction.
It is also kept as a message event (``feedback``), for what each message brought.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from retainly.errors import InputError
from retainly.messaging.message_events import event_id, record_event
from retainly.store.backends import Store

SCORES = range(0, 11)
SCORE = r"^\s*(10|[0-9])\s*$"  # a contact's outcome that is such a score (the engine's regex)
DETRACTOR_MAX, PROMOTER_MIN = 6, 9  # NPS: 0-6 detractors, 7-8 passives, 9-10 promoters
COMMENT_LIMIT = 2000


def checked_score(score) -> int:
    try:
        value = int(str(score).strip())
    except ValueError:
        value = -1
    if value not in SCORES:
        raise InputError(f"score {score!r}: choose a whole number from 0 to 10", parameter="score")
    return value


def interaction_id(message_key: str) -> str:
    return "feedback:" + hashlib.sha256(message_key.encode("utf-8")).hexdigest()[:32]


def record_feedback(store: Store, customer_id: int, message_key: str, score: int, comment: str | None,
                    now: datetime) -> None:
    """Keep the answer to ``message_key``'s question, replacing an earlier answer to it."""
    score = checked_score(score)
    comment = " ".join((comment or "").split())[:COMMENT_LIMIT] or None
    found = interaction_id(message_key)
    with store.transaction():
        store.execute("DELETE FROM interactions WHERE interaction_id = ?", (found,))
        store.execute("INSERT INTO interactions (interaction_id, customer_id, occurred_at, kind, direction, outcome, "
                      "note, by_whom) VALUES (?, ?, ?, 'feedback', 'inbound', ?, ?, 'email link')",
                      (found, customer_id, now, str(score), comment))
        record_event(store, event_id("feedback", message_key), "feedback", message_key, customer_id, str(score),
                     now, now)


def answer_of(store: Store, message_key: str) -> tuple[int, str | None] | None:
    """The score and comment already given to ``message_key``'s question, if any."""
    found = store.fetchall("SELECT outcome, note FROM interactions WHERE interaction_id = ?",
                           (interaction_id(message_key),))
    return (int(found[0][0]), found[0][1]) if found else None
