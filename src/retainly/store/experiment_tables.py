"""Migration 20: offer decisions, and the simulated shop's responses with their known truth.

* ``offer_decisions``: for a playbook whose offers are targeted (docs/experiments.md), what was
  decided for each enrolment's step with an offer: whether the customer got it, by which model,
  and the expected revenue with and without it, the expected gain and the expected cost (the
  discount paid on all the customer's revenue plus the contact), so the saving against
  "discount everyone" can be shown. One row per (playbook, customer, occurrence, step).
* ``simulated_responses``: what ``retainly simulate`` drew for each message it delivered to a
  generated shop's customer (docs/simulation.md): the known true effect in revenue, and the
  order the message brought, if any, and when. Analytics never read it; tests and the demo
  compare measured effects with it.

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen the
same way once released.
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V20_EXPERIMENTS = Migration(
    20,
    "offer decisions with their expected gain and cost; the simulated shop's responses and their true effects",
    (
        """CREATE TABLE offer_decisions (
            playbook TEXT NOT NULL,
            customer_id BIGINT NOT NULL,
            occurrence TEXT NOT NULL,
            step INTEGER NOT NULL,
            decided_on DATE NOT NULL,
            model TEXT NOT NULL,
            offered BOOLEAN NOT NULL,
            expected_with DOUBLE PRECISION,
            expected_without DOUBLE PRECISION,
            expected_gain DOUBLE PRECISION,
            expected_cost DOUBLE PRECISION,
            PRIMARY KEY (playbook, customer_id, occurrence, step)
        )""",
        """CREATE TABLE simulated_responses (
            outbox_key TEXT PRIMARY KEY,
            customer_id BIGINT NOT NULL,
            playbook TEXT NOT NULL,
            delivered_on DATE NOT NULL,
            window_days INTEGER NOT NULL,
            kind TEXT NOT NULL,
            offer_rate DOUBLE PRECISION NOT NULL,
            true_effect DOUBLE PRECISION NOT NULL,
            responds_on DATE,
            order_value DECIMAL(18, 4),
            order_id TEXT
        )""",
    ),
)
