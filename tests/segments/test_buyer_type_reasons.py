"""A rule label's reason, worded by the engine, against an independent Python wording.

``reference_reason`` is the wording as Python writes it (f-strings and Python's ``round``, half
to even), the way retainly worded reasons before they moved into the engine. The grid covers
every rounding edge: exact half percents (5 of 8 orders is 62.5 %), the day/month/year
boundaries of a duration, and each label; tests/spark runs the same grid on Spark.
"""

from __future__ import annotations

import pyarrow as pa

from retainly.segments.buyer_types.reasons import reason

NOT_ENOUGH = "not enough history"
LABELS = (NOT_ENOUGH, "discount_only", "hit_and_run", "active")
PHRASE = "with a promo code or a discount or in a sale"


def reference_duration(days: int) -> str:
    if days < 60:
        return "1 day" if days == 1 else f"{days} days"
    if days < 730:
        return f"{round(days / 30.4375)} months"
    years = f"{days / 365.25:.1f}".removesuffix(".0")
    return f"{years} years"


def reference_reason(label: str, n: int, promoted: int, span: int, since: int, age: int, phrase: str,
                     known: bool, enough_days: int) -> str:
    orders = "1 order" if n == 1 else f"{n} orders"
    promo = f"{promoted} of {n} promoted" if known else "promotions unknown"
    if label == NOT_ENOUGH:
        return f"first order {age} days ago; a rule label needs {enough_days}"
    if label == "discount_only":
        return f"discount_only: {promoted} of {n} orders {phrase} ({round(100 * promoted / n)} %)"
    if label == "hit_and_run":
        within = "" if n == 1 else f" within {span} days"
        return f"hit_and_run: {orders}{within}, none in the {since} days since"
    if since == 0:
        last = "the last today"
    else:
        last = f"the last {since} days ago" if since > 1 else "the last yesterday"
    over = "on one day" if span == 0 else f"over {reference_duration(span)}"
    return f"active: {orders} {over}, {last}, {promo}"


def grid() -> pa.Table:
    """Every label over orders 1..12 with every promoted count, and a few spans and gaps; and every span
    from 0 to 4,000 days for an active customer."""
    rows = [(label, n, p, span, since, age)
            for label in LABELS for n in range(1, 13) for p in range(n + 1)
            for span, since, age in ((0, 0, 0), (1, 1, 1), (59, 2, 179), (60, 30, 180), (729, 180, 731),
                                     (730, 359, 1461))]
    rows += [("active", 2, 1, span, 5, span + 5) for span in range(4001)]
    columns = list(zip(*rows))
    return pa.table({"label": pa.array(columns[0], pa.string()),
                     **{name: pa.array(values, pa.int64()) for name, values in
                        zip(("orders", "promoted_orders", "span", "days_since_last", "age"), columns[1:])}})


def check_reasons(store) -> int:
    """Word the grid on ``store``'s analytics engine with and without known promotions; compare with the
    reference; the number of rows compared."""
    data = grid()
    compared = 0
    with store.uploaded(data) as table:
        for phrase, known in ((PHRASE, True), ("", False)):
            worded = table.mutate(reason=reason(table, phrase=phrase, known=known, enough_days=180,
                                                not_enough=NOT_ENOUGH)).to_pyarrow().to_pylist()
            assert len(worded) == data.num_rows
            for row in worded:
                expected = reference_reason(row["label"], row["orders"], row["promoted_orders"], row["span"],
                                            row["days_since_last"], row["age"], phrase, known, 180)
                assert row["reason"] == expected, row
                compared += 1
    return compared


def test_engine_words_reasons_as_python_does(workspace):
    assert check_reasons(workspace.store) == 2 * grid().num_rows
    # The edges are in the grid: a half percent rounded to even, and a duration's every unit.
    assert reference_reason("discount_only", 8, 5, 0, 0, 0, PHRASE, True, 180).endswith("(62 %)")
    assert [reference_duration(d) for d in (1, 59, 60, 729, 730, 1096)] == [
        "1 day", "59 days", "2 months", "24 months", "2 years", "3 years"]
