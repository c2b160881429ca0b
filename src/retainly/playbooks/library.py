"""The built-in playbooks: one per tactic of the retention handbook, each with default rules,
timing, channel and text, ready to enable and edit (docs/playbooks.md says which advice each
serves). They are definitions in the same JSON shape a shop saves (retainly.playbooks.definition),
so an edited copy is an ordinary playbook.

Incentives (a step's ``offer``) are withheld from customers predicted to be hit-and-run buyers
by the run loop, for every playbook: no marketing money on a hopeless case.
"""

from __future__ import annotations

from retainly.playbooks.definition import Playbook, from_json

# The shop's typical gap from a first to a second order is measured at each run; this is used
# when nobody has two orders yet.
DEFAULT_SECOND_ORDER_GAP_DAYS = 30


def _field(name: str, op: str, value=None, **args) -> dict:
    condition = {"field": name, "op": op}
    if args:
        condition["args"] = args
    if op not in ("is null", "is not null"):
        condition["value"] = value
    return condition


def _all(*rules: dict) -> dict:
    return {"all": list(rules)}


def _message(text: str, subject: str, after_days: int = 0, offer: str | None = None,
             channels: tuple[str, ...] = ("email", "sms"), **email) -> dict:
    """A message step; ``email``: what only an email has (``html``, ``feedback``)."""
    return {"after_days": after_days, "action": "message", "channels": list(channels), "subject": subject,
            "text": text, "offer": offer, **email}


def _product_card(product: str, lead: str) -> str:
    """A step's HTML: ``lead`` and a card of the product (``next`` to offer or ``due``), with its
    picture and price when the shop's catalogue has them, linked to its page when it has one
    (tables and inline styles: mail clients ignore most CSS)."""
    name, url, image, price = (f"{product}_product{suffix}" for suffix in ("", "_url", "_image", "_price"))
    return (
        f"<p style=\"margin:0 0 16px 0;\">{lead}</p>\n"
        f"{{% if {url} %}}<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
        f"style=\"border:1px solid #e5e5e5;border-radius:6px;margin:0 0 16px 0;\"><tr>"
        f"{{% if {image} %}}<td style=\"padding:12px;\"><a href=\"{{{{ {url} }}}}\"><img src=\"{{{{ {image} }}}}\" "
        f"alt=\"{{{{ {name} }}}}\" width=\"120\" style=\"display:block;border:0;max-width:120px;\"></a></td>"
        f"{{% endif %}}<td style=\"padding:12px;\"><a href=\"{{{{ {url} }}}}\" style=\"font-weight:bold;\">"
        f"{{{{ {name} }}}}</a>{{% if {price} %}}<br>{{{{ {price} }}}}{{% endif %}}</td></tr></table>"
        f"{{% else %}}<p style=\"margin:0 0 16px 0;font-weight:bold;\">{{{{ {name} }}}}</p>{{% endif %}}")


def _task(text: str, after_days: int = 0, offer: str | None = None) -> dict:
    return {"after_days": after_days, "action": "task", "channels": ["task"], "text": text, "offer": offer}


def _win_back(days: int, until: int, offer: str | None, priority: int) -> dict:
    # A window, not "at least N days": on the first run everyone already silent for years would
    # otherwise enter at once; each tier reaches those who have just crossed into it.
    return {
        "name": f"win-back-{days}", "title": f"Win back after {days} days of silence",
        "advice": "Win back customers who stopped buying before they forget the shop.",
        "trigger": {"kind": "audience", "rule": _all(_field("days_since_last_order", "between", [days, until]),
                                                      _field("orders_count", ">=", 1))},
        "steps": [_message("We miss you, {{ first_name }}. Here is what is new since your last order.",
                           "It has been a while", offer=offer)],
        "goal_days": 30, "reentry": "every:365", "priority": priority}


def builtins(second_order_gap_days: int = DEFAULT_SECOND_ORDER_GAP_DAYS) -> list[Playbook]:
    """The built-in playbooks, timed by the shop's typical gap to a second order."""
    definitions = [
        {"name": "first-order-thanks", "title": "Thank you and feedback after the first order",
         "advice": "Thank new customers and ask how it went: feedback after the first order.",
         "trigger": {"kind": "first_order", "delay_days": 3},
         "steps": [_message("Thank you for your first order, {{ first_name }}! How did it go? One click tells us.",
                            "How was your order?", feedback=True)],
         "goal_days": 60, "reentry": "once", "priority": 60},
        {"name": "second-order-nudge", "title": "Nudge toward a second order",
         "advice": "The second order is the hardest: nudge one-time buyers when the shop's typical gap has passed.",
         "trigger": {"kind": "first_order", "delay_days": max(1, int(second_order_gap_days)),
                     "delay_from": "second_order_gap"},
         "condition": _field("orders_count", "=", 1),
         "steps": [_message("Picked for you after your first order: {{ next_product }}.", "Something to go with it",
                            offer="free shipping on the second order",
                            html=_product_card("next", "Picked for you after your first order, {{ first_name }}:"))],
         "goal_days": 30, "reentry": "once", "priority": 55},
        {"name": "loyal-slowing-discount", "title": "A discount for a loyal buyer who slows down",
         "advice": "When a regular buyer slows down, a personal discount on the next order brings them back.",
         "trigger": {"kind": "audience", "rule": _all(_field("orders_count", ">=", 3),
                                                      _field("stage", "=", "at_risk"))},
         "steps": [_message("You have been with us for a while, {{ first_name }}: 10 % off your next order.",
                            "A thank-you for a regular", offer="10 % off the next order")],
         "goal_days": 30, "reentry": "every:180", "priority": 70},
        {"name": "replenishment-reminder", "title": "Replenishment reminder when a consumable is due",
         "advice": "Remind customers when what they use up (filters, beans, ink) is about to run out.",
         "trigger": {"kind": "audience", "rule": _field("reorder_due", "=", True)},
         "steps": [_message("Time to restock? Your {{ due_product }} should be running low.", "Running low?",
                            html=_product_card("due", "Time to restock? This should be running low:"))],
         "goal_days": 21, "reentry": "every:30", "priority": 65},
        {"name": "cross-sell", "title": "Cross-sell the next product",
         "advice": "Offer what goes with what they bought (the mouse after the laptop).",
         "trigger": {"kind": "audience", "rule": _all(_field("offered", "=", True),
                                                      _field("days_since_last_order", "between", [7, 60]))},
         "steps": [_message("Goes well with your last purchase: {{ next_product }}.", "You might like this",
                            html=_product_card("next", "Goes well with your last purchase:"))],
         "goal_days": 30, "reentry": "every:60", "priority": 30},
        {"name": "birthday", "title": "Birthday offer",
         "advice": "Congratulate customers on their birthday with a small gift.",
         "trigger": {"kind": "birthday", "days_before": 3},
         "steps": [_message("Happy birthday, {{ first_name }}! A gift from us for the week.", "Happy birthday",
                            offer="a birthday gift with the next order")],
         "goal_days": 14, "reentry": "each", "priority": 50},
        _win_back(60, 179, None, 75), _win_back(180, 364, "10 % off the next order", 76),
        _win_back(365, 729, "15 % off the next order", 77),
        {"name": "win-back-by-rhythm", "title": "Win back by the customer's own rhythm",
         "advice": "A customer is late by their own rhythm before any fixed number of days says so.",
         "trigger": {"kind": "audience", "rule": _all(_field("stage", "in", ["at_risk", "lapsed"]),
                                                      _field("orders_count", ">=", 2))},
         "steps": [_message("It has been longer than usual, {{ first_name }}. Anything we can help with?",
                            "We have not seen you in a while")],
         "goal_days": 30, "reentry": "every:180", "priority": 74},
        {"name": "vip-welcome", "title": "VIP welcome and reward",
         "advice": "Recognise the best customers: a welcome to the VIP circle and a reward.",
         "trigger": {"kind": "audience", "rule": _field("vip", "=", True)},
         "steps": [_message("Welcome to our VIP circle, {{ first_name }}: early access and a reward are yours.",
                            "You are one of our best customers", offer="a VIP reward")],
         "goal_days": 60, "reentry": "once", "priority": 80},
        {"name": "abandoned-cart", "title": "Abandoned cart",
         "advice": "Remind visitors of the cart they left behind, within a day.",
         "trigger": {"kind": "audience", "rule": _field("cart_abandoned", "=", True, within_hours=24)},
         "steps": [_message("You left something in your cart. It is still waiting for you.", "Your cart")],
         "goal_days": 7, "reentry": "every:7", "priority": 90},
        {"name": "discount-only-early", "title": "Discount-only buyers moved to full-price habits",
         "advice": "A discount-only buyer can become a regular only if caught early: show value, not discounts.",
         "trigger": {"kind": "audience", "rule": _all(_field("buyer_type", "=", "discount_only"),
                                                      _field("orders_count", "<=", 2))},
         "steps": [_message("What our regulars love, at its everyday price: {{ next_product }}.",
                            "Our customers' favourites",
                            html=_product_card("next", "What our regulars love, at its everyday price:"))],
         "goal_days": 60, "reentry": "once", "priority": 40},
        {"name": "call-drifting-valuable", "title": "A manager's call to a valuable customer drifting away",
         "advice": "Managers call valuable customers who drift away, before they are gone.",
         "trigger": {"kind": "audience", "rule": _all(_field("stage", "in", ["at_risk", "lapsed"]),
                                                      _field("order_chance", "between", [0.05, 0.6]),
                                                      _field("m_score", ">=", 4))},
         "steps": [_task("Call {{ name }}: a valuable customer drifting away ({{ stage }}). Ask how we can help.")],
         "goal_days": 30, "reentry": "every:90", "priority": 85, "marketing": False},
        {"name": "call-silent-year", "title": "A manager's call to customers silent for a year",
         "advice": "Call customers silent for a year with a promo code: the last chance to win them back.",
         "trigger": {"kind": "audience", "rule": _all(_field("days_since_last_order", "between", [365, 729]),
                                                      _field("orders_count", ">=", 2))},
         "steps": [_task("Call {{ name }}: no order for a year. Offer the promo code.", offer="promo code COMEBACK")],
         "goal_days": 30, "reentry": "every:365", "priority": 78, "marketing": False},
    ]
    return [from_json(definition) for definition in definitions]


def builtin(name: str, second_order_gap_days: int = DEFAULT_SECOND_ORDER_GAP_DAYS) -> Playbook | None:
    return next((p for p in builtins(second_order_gap_days) if p.name == name), None)
