"""The generated shop: determinism, the canonical contract, and the truth it promises.

Expected numbers come from the generator's documented parameters (``retainly.synth.timing``,
``baskets``, ``calendar``, ``customers``) or from the brief (e.g. at most 5 orders for a
hit-and-run buyer); each test says which, and why its tolerance is what it is.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from retainly.ingest.batch import ENTITY_COLUMNS, LINE_KINDS, ORDER_CHANNELS, ORDER_STATUSES
from retainly.synth import DEFAULT_MIX, PHASES, PROCESSES, generate_shop, make_dirty
from retainly.synth.baskets import COMPANION_IN_ORDER, COMPANION_LATER
from retainly.synth.calendar import build_calendar
from retainly.synth.customers import CAC, SPEND_NOISE

START, END = date(2023, 1, 1), date(2025, 12, 31)
END_TS = pd.Timestamp(END) + pd.Timedelta(days=1)  # end is inclusive


@pytest.fixture(scope="module")
def shop():
    return generate_shop(20_000, seed=11)


@pytest.fixture(scope="module")
def orders_with_type(shop):
    truth = shop.truth.set_index("customer_ref")["buyer_type"]
    orders = shop.orders.copy()
    orders["buyer_type"] = orders["customer_ref"].map(truth)
    return orders


@pytest.fixture(scope="module")
def merchandise(shop):
    """Merchandise lines with their order's customer and time."""
    lines = shop.lines[shop.lines["kind"] == "merchandise"]
    return lines.merge(shop.orders[["order_id", "customer_ref", "placed_at"]], on="order_id")


def in_sale(placed_at: pd.Series, promotions: pd.DataFrame) -> np.ndarray:
    inside = np.zeros(len(placed_at), dtype=bool)
    for first, last in zip(promotions["starts_on"], promotions["ends_on"]):
        inside |= ((placed_at >= first) & (placed_at < last + pd.Timedelta(days=1))).to_numpy()
    return inside


# -- determinism and the canonical contract -------------------------------------------------


def test_same_seed_gives_identical_frames_and_another_seed_does_not():
    first, again, other = generate_shop(3_000, seed=5), generate_shop(3_000, seed=5), generate_shop(3_000, seed=6)
    for name in ENTITY_COLUMNS:
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name), obj=name)
    assert not first.orders["placed_at"].equals(other.orders["placed_at"])
    assert not first.customers["name"].equals(other.customers["name"])


def test_every_canonical_column_is_present_and_required_columns_are_filled(shop):
    for name, (columns, required) in ENTITY_COLUMNS.items():
        frame = getattr(shop, name)
        assert frame is not None and len(frame) > 0, name
        assert list(frame.columns) == list(columns), name
        for column in required:
            assert frame[column].notna().all(), f"{name}.{column}"


def test_dtypes_the_loader_relies_on(shop):
    for name, column in [("orders", "placed_at"), ("events", "occurred_at"), ("returns", "returned_at"),
                         ("customers", "first_seen_at"), ("customers", "birthday"), ("spend", "spend_date"),
                         ("promotions", "starts_on"), ("truth", "dropped_out_at")]:
        assert str(getattr(shop, name)[column].dtype) == "datetime64[ns]", f"{name}.{column}"
    assert shop.customers["email_consent"].dtype == bool and shop.customers["sms_consent"].dtype == bool
    assert (shop.spend["spend_date"].dt.day == 1).all()
    for column in ("gross", "discount", "shipping", "tax", "net"):  # the loader computes totals
        assert shop.orders[column].isna().all()
    assert set(shop.orders["currency"]) == {"EUR"}
    assert set(shop.orders["status"]) <= set(ORDER_STATUSES)
    assert set(shop.orders["channel"]) <= set(ORDER_CHANNELS)
    assert set(shop.lines["kind"]) <= set(LINE_KINDS)
    # brief: mostly completed, mostly online (orders.CANCELLED_SHARE = 3 %, online 86 %)
    assert (shop.orders["status"] == "completed").mean() > 0.9
    assert (shop.orders["channel"] == "online").mean() > 0.8


def test_ids_are_unique_and_well_formed(shop):
    assert shop.orders["order_id"].is_unique
    assert shop.orders["order_id"].str.fullmatch(r"O\d{8}").all()
    assert shop.customers["external_id"].is_unique
    assert shop.customers["external_id"].str.fullmatch(r"C\d{7}").all()
    assert shop.customers["email"].is_unique
    assert shop.events["event_id"].is_unique
    assert shop.events["event_id"].str.fullmatch(r"E\d{9}").all()
    assert shop.interactions["interaction_id"].is_unique
    assert not shop.returns.duplicated(["return_id", "line_no"]).any()
    assert shop.returns["return_id"].str.fullmatch(r"R\d{7}").all()
    # order ids follow time
    assert shop.orders["placed_at"].is_monotonic_increasing


def test_lines_belong_to_orders_and_are_numbered_from_one(shop):
    lines = shop.lines
    assert lines["order_id"].isin(shop.orders["order_id"]).all()
    assert not lines.duplicated(["order_id", "line_no"]).any()
    per_order = lines.groupby("order_id")["line_no"].agg(["min", "max", "size"])
    assert (per_order["min"] == 1).all() and (per_order["max"] == per_order["size"]).all()
    merchandise = lines[lines["kind"] == "merchandise"]
    assert merchandise["order_id"].nunique() == len(shop.orders)  # every order sells something
    assert lines["sku"].dropna().isin(shop.products["sku"]).all()
    assert (lines["amount"] - (lines["quantity"] * lines["unit_price"]).round(2)).abs().max() < 1e-9


def test_small_delivered_orders_pay_shipping_and_promo_codes_discount_their_lines(shop):
    lines = shop.lines
    merchandise = lines[lines["kind"] == "merchandise"]
    net = (merchandise["amount"] - merchandise["discount"]).groupby(merchandise["order_id"]).sum()
    shipped = set(lines.loc[lines["kind"] == "shipping", "order_id"])
    orders = shop.orders.set_index("order_id")
    pays = (net.reindex(orders.index) < 49.0) & (orders["channel"] != "offline")  # orders.FREE_SHIPPING_FROM
    assert set(pays.index[pays]) == shipped

    rate = shop.promotions.set_index("promo_code")["discount_rate"]
    merchandise = merchandise.join(orders[["promo_code", "placed_at"]], on="order_id")
    expected = (merchandise["promo_code"].map(rate).fillna(0.0) * merchandise["amount"]).round(2)
    assert (merchandise["discount"] - expected).abs().max() <= 0.011
    coded = orders[orders["promo_code"].notna()].join(shop.promotions.set_index("promo_code"), on="promo_code")
    assert (coded["placed_at"] >= coded["starts_on"]).all()
    assert (coded["placed_at"] < coded["ends_on"] + pd.Timedelta(days=1)).all()


def test_returns_point_at_order_lines_with_amount_quantity_times_price(shop):
    returns = shop.returns
    lines = shop.lines.set_index(["order_id", "line_no"])
    line = lines.loc[list(zip(returns["order_id"], returns["order_line_no"]))]
    assert len(line) == len(returns)
    assert (line["sku"].to_numpy() == returns["sku"].to_numpy()).all()
    assert (returns["quantity"].to_numpy() <= line["quantity"].to_numpy()).all()
    assert np.allclose(returns["amount"], (returns["quantity"] * returns["unit_price"]).round(2))
    placed = returns["order_id"].map(shop.orders.set_index("order_id")["placed_at"])
    delay = returns["returned_at"] - placed
    assert (delay > pd.Timedelta(0)).all() and (delay <= pd.Timedelta(days=30)).all()
    assert (returns["returned_at"] < END_TS).all()
    # "a few %" of the merchandise lines (catalog.RETURN_RATE: 0.5-12 % by category)
    assert 0.01 < len(returns) / (shop.lines["kind"] == "merchandise").sum() < 0.08


def test_guest_orders_have_no_customer_and_make_the_configured_share(shop):
    guests = shop.orders["customer_ref"].isna()
    assert abs(guests.mean() - 0.1) < 0.002  # guest_share default, rounded to whole orders
    assert shop.orders.loc[~guests, "customer_ref"].isin(shop.customers["external_id"]).all()


# -- the truth ----------------------------------------------------------------------------


def test_buyer_type_mix_matches_the_configured_mix(shop):
    # draw_buyer_types hands out exactly rounded shares, so only rounding separates them
    shares = shop.truth["buyer_type"].value_counts(normalize=True)
    for name, share in DEFAULT_MIX.items():
        assert abs(shares[name] - share) < 0.001


def test_hit_and_run_customers_have_at_most_five_orders(orders_with_type):
    counts = orders_with_type[orders_with_type["buyer_type"] == "hit_and_run"].groupby("customer_ref").size()
    assert counts.max() <= PROCESSES["hit_and_run"].max_orders == 5
    # mean dropout 0.6 after every purchase: most never come back
    assert (counts == 1).mean() > 0.5


def test_dropped_out_customers_order_nothing_after_dropping_out(shop):
    truth = shop.truth.set_index("customer_ref")
    last = shop.orders.groupby("customer_ref")["placed_at"].max()
    dropped = truth["dropped_out_at"].notna()
    # BG/NBD: a customer drops out right after a purchase, which is then their last one
    assert (last[dropped[dropped].index] == truth.loc[dropped, "dropped_out_at"]).all()
    assert (truth["dropped_out_at"].dropna() < END_TS).all()


def test_discount_only_customers_buy_mostly_in_sales(shop, orders_with_type):
    share = pd.Series(in_sale(orders_with_type["placed_at"], shop.promotions)).groupby(
        orders_with_type["buyer_type"].to_numpy()).mean()
    # timing.PROCESSES: 85 % of their purchases are moved into a sale; sales cover ~19 % of days
    assert share["discount_only"] > 0.7
    assert share["active"] < 0.3 and share["hit_and_run"] < 0.3
    coded = orders_with_type["promo_code"].notna().groupby(orders_with_type["buyer_type"]).mean()
    assert coded["discount_only"] > 3 * coded["active"]


def test_consumables_are_reordered_at_their_true_interval(shop, merchandise):
    truth = shop.product_truth.dropna(subset=["reorder_interval_days"])
    assert len(truth) >= 5
    ratios = []
    for sku, interval in zip(truth["sku"], truth["reorder_interval_days"]):
        bought = merchandise[(merchandise["sku"] == sku)].sort_values(["customer_ref", "placed_at"])
        gaps = bought.groupby("customer_ref")["placed_at"].diff().dropna().dt.total_seconds() / 86_400
        ratios.append(gaps / interval)
        if len(gaps) >= 300:  # enough gaps for a stable median; rarer ones count in the pool
            assert abs(gaps.median() / interval - 1) < 0.15, sku
    # gaps are Gamma(20, interval / 20) (baskets.REORDER_SHAPE), median 0.98 x interval
    assert abs(pd.concat(ratios).median() - 1) < 0.15


def test_anchor_buyers_buy_the_companion(shop, merchandise):
    pairs = shop.product_truth.dropna(subset=["companion_of"])
    assert len(pairs) >= 3
    buyers_of = merchandise.groupby("sku")["customer_ref"].agg(lambda c: set(c.dropna()))
    everybody = set(merchandise["customer_ref"].dropna())
    for companion, anchor in zip(pairs["sku"], pairs["companion_of"]):
        anchor_buyers = buyers_of.get(anchor, set())
        if len(anchor_buyers) < 30:
            continue
        others = everybody - anchor_buyers
        with_anchor = len(anchor_buyers & buyers_of.get(companion, set())) / len(anchor_buyers)
        without = len(others & buyers_of.get(companion, set())) / len(others)
        # baskets: 45 % in the same order + 60 % of the rest within 30 days = 78 %, less those
        # who drop out or reach the end first
        assert with_anchor > 0.5 * (COMPANION_IN_ORDER + (1 - COMPANION_IN_ORDER) * COMPANION_LATER), companion
        assert with_anchor > 5 * without, companion


def test_spend_only_for_paid_channels_and_proportional_to_acquisitions(shop):
    spend = shop.spend
    assert set(spend["channel"]) == set(CAC)
    assert (spend["campaign"] == spend["channel"] + "-" + spend["spend_date"].dt.strftime("%Y-%m")).all()
    customers = shop.customers
    month = customers["first_seen_at"].dt.strftime("%Y-%m")
    noise_mean = math.exp(SPEND_NOISE**2 / 2)
    noise_sd = noise_mean * math.sqrt(math.exp(SPEND_NOISE**2) - 1)
    for channel, cost in CAC.items():
        # each month: acquired x CAC x lognormal(0, SPEND_NOISE); the channel's total is an
        # acquisition-weighted mean of the monthly noise, with the standard deviation below
        acquired = month[customers["acquisition_channel"] == channel].value_counts()
        ratio = spend.loc[spend["channel"] == channel, "amount"].sum() / (acquired.sum() * cost)
        sd = noise_sd * math.sqrt((acquired**2).sum()) / acquired.sum()
        assert abs(ratio - noise_mean) < 4 * sd, channel
    assert not shop.customers["acquisition_channel"].isin(["organic", "referral"]).all()


def test_more_orders_in_november_and_december(shop):
    # calendar.MONTH_DEMAND: Nov/Dec 1.45/1.65 against 0.8-1.0 for the other months
    placed = shop.orders["placed_at"]
    per_day = placed.dt.month.isin([11, 12]).mean() / (61 / 365)
    assert per_day > 1.3


def _expected_repeats(t: np.ndarray, r: float, alpha: float, a: float, b: float, grid: int = 4_000) -> np.ndarray:
    """MBG/NBD E[X(t)]: integral over p ~ Beta(a, b) of (1-p)/p * (1 - (alpha / (alpha + p t))^r).

    Conditional on (lambda, p), E[X(t)] = (1-p)/p (1 - exp(-lambda p t)); averaging exp(-lambda p t)
    over lambda ~ Gamma(r, alpha) gives (alpha / (alpha + p t))^r; p is integrated by the midpoint rule.
    """
    p = (np.arange(grid) + 0.5) / grid
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    weight = np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - log_beta) / grid
    t = np.asarray(t, dtype=float)[:, None]
    return (((1 - p) / p) * (1 - (alpha / (alpha + p * t)) ** r) * weight).sum(axis=1)


def test_active_customers_order_as_often_as_their_parameters_imply(shop):
    # Base orders are those with a regular product; replenishment and companion follow-ups
    # hold only consumables or companions (see catalog's docstring).
    special = shop.product_truth["reorder_interval_days"].notna() | shop.product_truth["companion_of"].notna()
    regular = ~shop.lines["sku"].isin(shop.product_truth["sku"][special])
    lines = shop.lines[(shop.lines["kind"] == "merchandise") & regular]
    base = shop.orders[shop.orders["order_id"].isin(lines["order_id"])]
    active = shop.truth.loc[shop.truth["buyer_type"] == "active", "customer_ref"]
    placed = base[base["customer_ref"].isin(active)].groupby("customer_ref")["placed_at"]
    count, first = placed.size(), placed.min()
    assert len(count) == len(active)
    # The process runs in operational time (cumulative seasonal demand); its calendar is
    # tested above. T = operational days from the first purchase to the end.
    calendar = build_calendar(START, END)
    since = (first - pd.Timestamp(START)).dt.total_seconds().to_numpy() / 86_400
    horizon = calendar.warp_knots[-1] - calendar.to_operational(since)
    process = PROCESSES["active"]
    expected = 1 + _expected_repeats(horizon, process.r, process.alpha, process.a, process.b)
    standard_error = count.std() / math.sqrt(len(count))
    # 4 standard errors (about 4 % here) of sampling noise; 6 seeds landed within 1.0 SE.
    assert abs(count.mean() - expected.mean()) < 4 * standard_error
    # and the mean dropout probability is the Beta mean a / (a + b)
    p = shop.truth.loc[shop.truth["buyer_type"] == "active", "dropout_probability"]
    assert abs(p.mean() - process.a / (process.a + process.b)) < 0.005


# -- site events and interactions ---------------------------------------------------------


def test_every_online_order_has_a_visit_and_a_checkout_in_one_session(shop):
    events = shop.events
    checkout = events[events["kind"] == "checkout"].set_index("order_id")
    online = shop.orders[shop.orders["channel"] == "online"].set_index("order_id")
    assert checkout.index.is_unique and set(checkout.index) == set(online.index)
    assert (checkout.loc[online.index, "occurred_at"] == online["placed_at"]).all()
    visit = events[events["kind"] == "visit"].set_index("session_id")["occurred_at"]
    assert (visit.loc[checkout["session_id"]].to_numpy() <= checkout["occurred_at"].to_numpy()).all()
    assert ((checkout["customer_ref"].fillna("") == online.loc[checkout.index, "customer_ref"].fillna("")).all())


def test_abandoned_carts_see_no_order_within_a_day(shop):
    events = shop.events
    sessions = events.groupby("session_id")["kind"].agg(set)
    abandoned = sessions.index[sessions.map(lambda kinds: "add_to_cart" in kinds and "checkout" not in kinds)]
    assert len(abandoned) > 100
    carts = events[events["session_id"].isin(abandoned) & (events["kind"] == "visit") & events["customer_ref"].notna()]
    orders = shop.orders.dropna(subset=["customer_ref"]).sort_values("placed_at")
    following = pd.merge_asof(carts.sort_values("occurred_at"), orders[["customer_ref", "placed_at"]],
                              left_on="occurred_at", right_on="placed_at", by="customer_ref", direction="forward")
    wait = following["placed_at"] - following["occurred_at"]
    assert not (wait <= pd.Timedelta(days=1)).any()


def test_interactions_include_negative_feedback(shop):
    kinds = set(shop.interactions["kind"])
    assert {"feedback", "support", "call"} <= kinds
    feedback = shop.interactions[shop.interactions["kind"] == "feedback"]
    assert 0.05 < (feedback["outcome"] == "negative").mean() < 0.4
    assert shop.interactions["customer_ref"].isin(shop.customers["external_id"]).all()
    assert (shop.interactions["occurred_at"] < END_TS).all()


def test_progress_names_each_phase_once_in_order():
    phases = []
    generate_shop(200, seed=1, progress=phases.append)
    assert phases == list(PHASES)
    assert phases[0] == "customers" and "orders" in phases and "lines" in phases


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        generate_shop(0, seed=1)
    with pytest.raises(ValueError):
        generate_shop(10, seed=1, guest_share=1.0)


# -- make_dirty ---------------------------------------------------------------------------


def native_orders(batch) -> pd.DataFrame:
    """The batch's orders and lines in the native one-row-per-line layout, as text."""
    rows = batch.lines.merge(batch.orders, on="order_id", suffixes=("", "_order"))
    frame = pd.DataFrame(
        {
            "order_id": rows["order_id"], "customer_id": rows["customer_ref"],
            "placed_at": rows["placed_at"].dt.strftime("%Y-%m-%d %H:%M:%S"), "status": rows["status"],
            "currency": rows["currency"], "channel": rows["channel"], "promo_code": rows["promo_code"],
            "country": rows["country"], "shipping": "", "tax": "", "order_discount": "",
            "line_no": rows["line_no"].astype(str), "sku": rows["sku"], "description": rows["description"],
            "quantity": rows["quantity"].astype(str), "unit_price": rows["unit_price"].map("{:.2f}".format),
            "line_discount": rows["discount"].map("{:.2f}".format), "line_amount": rows["amount"].map("{:.2f}".format),
            "kind": rows["kind"],
        }
    )
    return frame.fillna("").astype(str)


@pytest.fixture(scope="module")
def native():
    return native_orders(generate_shop(1_000, seed=3))


def test_make_dirty_lists_exactly_the_changed_cells(native):
    dirty, faults = make_dirty(native, seed=9, share=0.02)
    assert list(faults.columns) == ["row_index", "column", "value", "fault"]
    assert dirty.shape == native.shape and list(dirty.columns) == list(native.columns)
    changed = dirty.to_numpy() != native.to_numpy()
    rows, columns = np.nonzero(changed)
    assert sorted(zip(rows, native.columns[columns])) == sorted(zip(faults["row_index"], faults["column"]))
    for row, column, value in zip(faults["row_index"], faults["column"], faults["value"]):
        assert dirty[column].iloc[row] == value
    assert faults["row_index"].is_unique  # one cell per row
    assert abs(len(faults) - 0.02 * len(native)) <= 1
    assert set(faults["fault"]) == {"unparseable_date", "garbage_number", "negative_price",
                                    "non_integer_quantity", "empty_order_id"}


def test_make_dirty_is_deterministic_and_leaves_its_input_alone(native):
    before = native.copy()
    first, faults = make_dirty(native, seed=4)
    again, faults_again = make_dirty(native, seed=4)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(faults, faults_again)
    pd.testing.assert_frame_equal(native, before)
    _, other = make_dirty(native, seed=5)
    assert not faults["row_index"].equals(other["row_index"])
    assert len(make_dirty(native, seed=4, share=0.0)[1]) == 0


def test_make_dirty_takes_nullable_strings_and_never_blanks_a_missing_cell(native):
    text = native.astype("string")
    text.loc[text["order_id"] == text["order_id"].iloc[0], "order_id"] = pd.NA  # nothing to empty here
    dirty, faults = make_dirty(text, seed=2, share=0.5)
    changed = (dirty.fillna("\0") != text.fillna("\0")).to_numpy()
    rows, columns = np.nonzero(changed)
    assert sorted(zip(rows, text.columns[columns])) == sorted(zip(faults["row_index"], faults["column"]))
    blanked = faults[faults["column"] == "order_id"]["row_index"]
    assert text["order_id"].iloc[blanked].notna().all()
