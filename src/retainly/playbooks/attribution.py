"""What each message brought: deliveries, what came back, and the orders attributed to them.

**The rule (last touch, clicks first).** A purchase order is attributed to at most one message:
among the messages delivered (``sent``) to its customer before the order whose playbook's goal
window (``goal_days`` of the enrolment) still covers it, the last one clicked before the order,
else the last one delivered. A message's moment is when it was due: its run sends it then, and a
run as of a past day (``retainly run --as-of``) attributes as that day would have. An order
before any message, or after every window, is attributed to none.

Per playbook and step: delivered, opened and clicked (messages; opens are soft: see
retainly.messaging.tracking), the customers who ordered (converted), the orders and their
revenue (gross of returns, as the purchases table has it), and from the message events the
unsubscribes, bounces (hard and soft), complaints and feedback answers; and the orders placed
with a promo code a step's message gave (retainly.messaging.promo_codes). These are what the
messages were followed by, not what they caused: the holdouts say that (issue 17).
"""

from __future__ import annotations

from datetime import date

from retainly.features.model_summary import end_of
from retainly.store.backends import Store

EVENT_COLUMNS = {"unsubscribe": "unsubscribed", "bounce": "bounced", "soft_bounce": "bounced",
                 "complaint": "complaints", "feedback": "feedback_answers", "open": "opened", "click": "clicked"}

_ATTRIBUTED = """
WITH sent AS (
    SELECT o.key, o.playbook, o.step, o.customer_id, o.due_at AS sent_at, COALESCE(e.goal_days, 30) AS goal_days
    FROM outbox AS o
    LEFT JOIN enrolments AS e
        ON e.playbook = o.playbook AND e.customer_id = o.customer_id AND e.occurrence = o.occurrence
    WHERE o.status = 'sent' AND o.due_at < ?
),
clicks AS (
    SELECT message_key, MIN(occurred_at) AS clicked_at FROM message_events WHERE kind = 'click' GROUP BY message_key
),
touched AS (
    SELECT p.order_id, p.customer_id, CAST(p.revenue AS DOUBLE PRECISION) AS revenue, s.playbook, s.step,
           ROW_NUMBER() OVER (PARTITION BY p.order_id ORDER BY
               CASE WHEN c.clicked_at <= p.placed_at THEN 0 ELSE 1 END, s.sent_at DESC, s.key DESC) AS place
    FROM purchases AS p
    JOIN sent AS s ON s.customer_id = p.customer_id
    LEFT JOIN clicks AS c ON c.message_key = s.key
    WHERE p.placed_at >= s.sent_at AND p.placed_at < s.sent_at + s.goal_days * INTERVAL '1 day'
      AND p.placed_at < ?
)
SELECT playbook, step, COUNT(*), COUNT(DISTINCT customer_id), SUM(revenue)
FROM touched WHERE place = 1 GROUP BY playbook, step
"""


# Orders placed with a promo code, matched to the message that gave the code (whatever the window).
_CODE_ORDERS = """
SELECT o.playbook, o.step, COUNT(*), SUM(CAST(p.revenue AS DOUBLE PRECISION))
FROM purchases AS p
JOIN promo_codes AS c ON UPPER(c.code) = UPPER(TRIM(p.promo_code))
JOIN outbox AS o ON o.key = c.message_key
WHERE p.placed_at < ?
GROUP BY o.playbook, o.step
"""


def message_results(store: Store, as_of: date) -> list[dict]:
    """One row per playbook and step that delivered or heard back, up to the end of ``as_of``."""
    until = end_of(as_of)
    rows: dict[tuple[str, int], dict] = {}

    def row(playbook: str, step: int) -> dict:
        return rows.setdefault((playbook, int(step)), {
            "playbook": playbook, "step": int(step), "delivered": 0, "opened": 0, "clicked": 0, "converted": 0,
            "orders": 0, "revenue": 0.0,
            "conversion_rate": None, "code_orders": 0, "code_revenue": 0.0, "unsubscribed": 0, "bounced": 0, "complaints": 0, "feedback_answers": 0})

    for playbook, step, delivered in store.fetchall(
            "SELECT playbook, step, COUNT(*) FROM outbox WHERE status = 'sent' AND due_at < ? "
            "GROUP BY playbook, step", (until,)):
        row(playbook, step)["delivered"] = int(delivered)
    for playbook, step, orders, customers, revenue in store.fetchall(_ATTRIBUTED, (until, until)):
        found = row(playbook, step)
        found.update(orders=int(orders), converted=int(customers), revenue=round(float(revenue or 0.0), 2))
    for playbook, step, orders, revenue in store.fetchall(_CODE_ORDERS, (until,)):
        row(playbook, step).update(code_orders=int(orders), code_revenue=round(float(revenue or 0.0), 2))
    for playbook, step, kind, count, messages in store.fetchall(
            "SELECT o.playbook, o.step, m.kind, COUNT(*), COUNT(DISTINCT m.message_key) FROM message_events AS m "
            "JOIN outbox AS o ON o.key = m.message_key WHERE m.occurred_at < ? GROUP BY o.playbook, o.step, m.kind",
            (until,)):
        if kind in EVENT_COLUMNS:  # opened and clicked count messages; the rest, events
            row(playbook, step)[EVENT_COLUMNS[kind]] += int(messages if kind in ("open", "click") else count)
    for found in rows.values():
        if found["delivered"]:
            found["conversion_rate"] = round(found["converted"] / found["delivered"], 4)
    return [rows[key] for key in sorted(rows)]
