"""The chance to order within a window, checked against the shop's own recent history.

A purchase model's P(at least one purchase within t) is exact only if the shop follows the
model: steady rates, no seasons, dropout as the model says. Real shops do not, and a manager
acting on "70 %" needs seven in ten such customers to order. So the probability retainly
shows (``order_chance``) is recalibrated on what the shop's customers actually did:

1. take the last ``window`` days before the scoring date (and, pooled, up to three earlier
   windows within the last year, so that one season does not set the level);
2. with the model fitted as of the scoring date, predict each customer's raw P(an order within
   ``window``) from their history as it was at each window's start;
3. see who ordered in the hidden days, and fit an isotonic regression from the raw
   probability to the observed share (monotone: it never reorders customers, only says what
   a raw "0.4" has meant in this shop);
4. keep the map only if one learnt on the older windows beats the model's own chance on the
   latest window (with a single window there is nothing to check it on, and it is kept);
5. store the regression's breakpoints with the fit and map every customer's raw probability
   through them (linear between breakpoints, flat beyond the ends).

``reliability`` and ``brier`` are the checks: predicted against observed share per tenth of
the customers (ranked by the prediction), and the mean squared error of the probability.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
from ibis.expr.types import Table

from retainly.features.model_summary import customer_days, end_of
from retainly.features.orders import purchase_span
from retainly.settings import TIME_UNITS, ModelSettings

MIN_BUYERS = 20  # fewer orders than this in the windows: too few to calibrate on
MAX_POINTS = 200  # breakpoints kept with the fit; the map between them is linear
MAX_WINDOWS = 4  # earlier windows pooled to calibrate on, within the last year


@dataclass(frozen=True)
class Calibration:
    """An isotonic map from a model's raw probability to the share that did order."""

    window_days: int
    cut: date  # the earliest window learnt from starts after this day
    customers: int
    buyers: int
    raw: tuple[float, ...]
    observed: tuple[float, ...]

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw ones (clipped to the ends of the map)."""
        return np.interp(np.asarray(raw, dtype=float), self.raw, self.observed)

    def to_dict(self) -> dict:
        return {**asdict(self), "cut": self.cut.isoformat(), "raw": list(self.raw), "observed": list(self.observed)}

    @classmethod
    def from_dict(cls, values: dict) -> Calibration:
        return cls(**{**values, "cut": date.fromisoformat(values["cut"]), "raw": tuple(values["raw"]),
                      "observed": tuple(values["observed"])})


def fit_calibration(raw: np.ndarray, bought: np.ndarray, window_days: int, cut: date,
                    weights: np.ndarray | None = None) -> Calibration:
    """Isotonic regression of who ordered (0/1) on the raw probability; ``weights`` counts the customers
    of each row (equal raw probabilities are merged with their weights either way)."""
    raw = np.asarray(raw, dtype=float)
    bought = np.asarray(bought, dtype=float)
    weights = np.ones(len(raw)) if weights is None else np.asarray(weights, dtype=float)
    from sklearn.isotonic import IsotonicRegression  # imported when used: it costs a second of every CLI start

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(raw, bought, weights)
    xs, ys = iso.X_thresholds_, iso.y_thresholds_
    if len(xs) > MAX_POINTS:  # keep the map small in the fit record; the ends and shape stay
        keep = np.unique(np.linspace(0, len(xs) - 1, MAX_POINTS).round().astype(int))
        xs, ys = xs[keep], ys[keep]
    return Calibration(window_days=int(window_days), cut=cut, customers=int(round(weights.sum())),
                       buyers=int(round(weights @ bought)),
                       raw=tuple(float(x) for x in xs), observed=tuple(float(y) for y in ys))


def calibrate(store, as_of: date, model, settings: ModelSettings, window_days: int,
              days: Table | None = None) -> tuple[Calibration | None, str]:
    """(calibration, note): the map for the fitted ``model`` learnt on windows of ``window_days`` before ``as_of``.

    The windows end at ``as_of`` and step back one window at a time over the last year (at most
    ``MAX_WINDOWS``), pooled, so that one busy or quiet season does not set the level. The model
    is the one fitted as of ``as_of`` (its parameters, applied to each window's history as it
    was then): the map describes this model, not refits on shorter histories, which can be off
    in other ways. The map is kept only where it helps: with two windows or more, one learnt on
    the older windows must beat the model's own chance (Brier score) on the latest window.
    None with the reason otherwise, or when the history is too short or too quiet. ``days``
    (customer_id, day, ...: each customer's purchase days by ``as_of`` or later) when the caller has them.
    """
    unit_days = TIME_UNITS[settings.time_unit]
    start = purchase_span(store)[0]
    first = start.date() if start is not None and start < end_of(as_of) else None
    cuts = []
    for step in range(1, MAX_WINDOWS + 1):
        cut = as_of - timedelta(days=step * window_days)
        if first is None or (cut - first).days < window_days or (step > 1 and step * window_days > 366):
            break
        cuts.append(cut)
    # Every window's histories and outcomes come from one set of purchase days (customer, day), in one
    # pass, pulled as distinct (history, ordered) rows with a weight, the customers who share them.
    days = customer_days(store, as_of) if days is None else days.filter(days.day <= as_of)
    windows = windows_histories(store, days, cuts, window_days, unit_days)
    raws = [raw_order_chance(model, window, window_days / unit_days) for window in windows]
    outcomes = [window["bought"].to_numpy() for window in windows]
    weights = [window["weight"].to_numpy() for window in windows]
    if not cuts:
        return None, f"less than {window_days} days of history before {as_of - timedelta(days=window_days)}"
    raw, bought, weight = np.concatenate(raws), np.concatenate(outcomes), np.concatenate(weights)
    buyers = float(weight @ bought)
    if buyers < MIN_BUYERS or buyers == weight.sum():
        return None, f"{int(buyers)} orders in the windows before {as_of}: too few to calibrate on"
    if len(cuts) > 1:
        older = fit_calibration(np.concatenate(raws[1:]), np.concatenate(outcomes[1:]), window_days, cuts[-1],
                                np.concatenate(weights[1:]))
        own = brier(raws[0], outcomes[0], weights[0])
        mapped = brier(older.apply(raws[0]), outcomes[0], weights[0])
        if mapped >= own:
            return None, (f"recalibrating did not improve it on the latest window, {cuts[0]} to {as_of} "
                          f"(Brier {mapped:.4f} against the model's own {own:.4f})")
    calibration = fit_calibration(raw, bought, window_days, cuts[-1], weight)
    span = f"{cuts[-1]} to {as_of}"
    return calibration, (f"calibrated on {len(cuts)} window{'s' if len(cuts) > 1 else ''} of {window_days} days "
                         f"from {span}: {int(buyers):,} of {calibration.customers:,} customer-windows ordered")


def windows_histories(store, days: Table, cuts: list[date], window_days: int, unit_days: float) -> list[pd.DataFrame]:
    """Per cut of ``cuts``: distinct (frequency, recency, T as of the cut; bought: 1 if the customer ordered
    in the ``window_days`` after it, else 0) with ``weight``, the customers who share them, from purchase
    days (customer_id, day), by the definitions of ``features.model_summary``; in a fixed order.

    One pass over the days: one row per customer with, per cut, the purchase days by it, the last of them
    and whether the customer ordered in the window after it (the first purchase day is the same for
    every cut the customer had bought by)."""
    if not cuts:
        return []
    columns = {"first": days.day.min()}
    for k, cut in enumerate(cuts):
        before = days.day <= cut
        columns |= {f"count{k}": days.count(where=before), f"last{k}": days.day.max(where=before),
                    f"ordered{k}": ((days.day > cut) & (days.day <= cut + timedelta(days=window_days))).any()}
    with store.scratch(days.group_by("customer_id").aggregate(**columns)) as per:
        return [_distinct_histories(per.filter(per[f"count{k}"] > 0).select(
            count=per[f"count{k}"], first=per["first"], last=per[f"last{k}"],
            ordered=per[f"ordered{k}"].ifelse(1, 0)), cut, unit_days) for k, cut in enumerate(cuts)]


def _distinct_histories(per: Table, cut: date, unit_days: float) -> pd.DataFrame:
    """``windows_histories``'s rows for one cut from one row per customer: count, first, last (purchase
    days by ``cut``) and ordered (0 or 1)."""
    rows = per.select(count=per["count"], span=per["last"].delta(per["first"], unit="day"),
                      age=ibis.literal(cut).delta(per["first"], unit="day"), bought=per.ordered)
    grouped = rows.group_by(["count", "span", "age", "bought"]).aggregate(weight=rows.count()).to_pandas()
    grouped = grouped.astype("int64").sort_values(["count", "span", "age", "bought"], ignore_index=True)
    return pd.DataFrame({"frequency": grouped["count"] - 1, "recency": grouped["span"].to_numpy(float) / unit_days,
                         "T": grouped["age"].to_numpy(float) / unit_days, "bought": grouped["bought"].astype(float),
                         "weight": grouped["weight"].astype(float)})


def raw_order_chance(model, data, horizon: float) -> np.ndarray:
    """The model's own P(at least one purchase within ``horizon``), in its time unit."""
    return np.asarray(model.predict(data, horizon)["probability_of_purchase"], dtype=float)


def brier(predicted: np.ndarray, bought: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean squared error of probabilities against 0/1 outcomes (0 perfect, 0.25 a coin), over rows that
    each count ``weights`` times (once without)."""
    errors = (np.asarray(predicted, dtype=float) - np.asarray(bought, dtype=float)) ** 2
    return float(np.mean(errors) if weights is None else np.average(errors, weights=weights))


def reliability(predicted: np.ndarray, bought: np.ndarray, groups: int = 10,
                weights: np.ndarray | None = None) -> list[dict]:
    """Predicted against observed share per tenth of the customers ranked by the prediction, over rows
    that each count ``weights`` customers (one without).

    The tenths are as ``np.array_split`` cuts the ranked customers. Customers with the same prediction
    are one block whatever their order, and a block a boundary cuts goes to both groups in proportion,
    buyers and non-buyers alike: the table does not depend on the order of the rows.
    """
    predicted = np.asarray(predicted, dtype=float)
    bought = np.asarray(bought, dtype=float)
    weights = np.ones(len(predicted)) if weights is None else np.asarray(weights, dtype=float)
    values, block = np.unique(predicted, return_inverse=True)
    size = np.bincount(block, weights=weights, minlength=len(values))
    buyers = np.bincount(block, weights=weights * bought, minlength=len(values))
    keep = size > 0
    values, size, buyers = values[keep], size[keep], buyers[keep]
    customers = int(round(size.sum()))
    if customers == 0:
        return []
    counts = [len(part) for part in np.array_split(np.arange(customers), min(groups, customers))]
    edges = np.concatenate([[0], np.cumsum(counts)]) * (size.sum() / customers)
    ends = np.cumsum(size)
    starts = ends - size
    rows = []
    for low_edge, high_edge, count in zip(edges[:-1], edges[1:], counts):
        share = np.clip(np.minimum(ends, high_edge) - np.maximum(starts, low_edge), 0.0, None)
        inside = share > 0
        total = share.sum()
        rows.append({"group": len(rows) + 1, "customers": count,
                     "low": float(values[inside].min()), "high": float(values[inside].max()),
                     "predicted": float(share @ values / total), "observed": float(share @ (buyers / size) / total)})
    return rows
