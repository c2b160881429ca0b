"""Customers simulated straight from each model's story, vectorised over customers.

These generators are the independent side of tests/models/test_parameter_recovery.py and of
the fitting properties: they follow the papers' descriptions of how a customer behaves and
share no code with retainly.models. Time is in weeks; every customer makes a first purchase at
time 0 and is observed until T. ``frequency`` counts repeat purchases before T, ``recency`` is
the time of the last one (0 if none). With a ``horizon``, each customer is followed on to
T + horizon and ``future`` counts the purchases in (T, T + horizon], the holdout period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _purchases(rng: np.random.Generator, rate: np.ndarray, T: np.ndarray, horizon: float,
               end: np.ndarray | None = None, dropout: np.ndarray | None = None,
               dropout_at_start: bool = False) -> pd.DataFrame:
    """Poisson(rate) purchases until T + horizon, or ``end`` if sooner (death, for the Pareto/NBD).
    With ``dropout``, a coin flip with that probability after each repeat purchase (and, with
    ``dropout_at_start``, right after the first purchase too) ends the customer for good."""
    n = len(T)
    stop = T + horizon if end is None else np.minimum(end, T + horizon)
    frequency = np.zeros(n, dtype=np.int64)
    future = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n)
    clock = np.zeros(n)
    active = np.ones(n, dtype=bool)
    if dropout_at_start:
        active &= rng.random(n) >= dropout
    while active.any():  # one pass per purchase index, over the customers still buying
        i = np.flatnonzero(active)
        clock[i] += rng.exponential(1.0, i.size) / rate[i]
        bought = clock[i] < stop[i]
        active[i[~bought]] = False
        j = i[bought]
        calibration = j[clock[j] < T[j]]
        frequency[calibration] += 1
        recency[calibration] = clock[calibration]
        future[j[clock[j] >= T[j]]] += 1
        if dropout is not None:
            active[j] = rng.random(j.size) >= dropout[j]
    frame = pd.DataFrame({"frequency": frequency.astype(float), "recency": recency, "T": T})
    if horizon:
        frame["future"] = future
    return frame


def beta_geo(rng: np.random.Generator, r: float, alpha: float, a: float, b: float, T: np.ndarray,
             dropout_at_start: bool = False, horizon: float = 0.0) -> pd.DataFrame:
    """BG/NBD (Fader, Hardie & Lee 2005): λ ~ Gamma(r, scale 1/α), p ~ Beta(a, b);
    purchases form a Poisson(λ) process and after each repeat purchase the customer drops out
    for good with probability p. ``dropout_at_start`` gives the MBG/NBD (Batislam et al. 2007):
    one more coin flip right after the first purchase, at time 0."""
    n = len(T)
    rate = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    return _purchases(rng, rate, T, horizon, dropout=p, dropout_at_start=dropout_at_start)


def pareto_nbd(rng: np.random.Generator, r: float, alpha: float, s: float, beta: float, T: np.ndarray,
               horizon: float = 0.0) -> pd.DataFrame:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): λ ~ Gamma(r, scale 1/α), μ ~ Gamma(s, scale 1/β);
    the customer dies at an Exp(μ) time and buys as a Poisson(λ) process until death (or the end of observation)."""
    n = len(T)
    rate = rng.gamma(r, 1.0 / alpha, n)
    death = rng.exponential(1.0, n) / rng.gamma(s, 1.0 / beta, n)
    return _purchases(rng, rate, T, horizon, end=death)


def gamma_gamma(rng: np.random.Generator, p: float, q: float, v: float, customers: int,
                max_purchases: int = 10) -> pd.DataFrame:
    """Gamma-Gamma (Fader, Hardie & Lee 2005, JMR; Fader & Hardie's 2013 note): ν ~ Gamma(q, scale 1/v)
    per customer, each purchase's value ~ Gamma(p, scale 1/ν); x uniform on 1..max_purchases repeat
    purchases and monetary_value their mean."""
    frequency = rng.integers(1, max_purchases + 1, customers)
    nu = rng.gamma(q, 1.0 / v, customers)
    total = np.zeros(customers)
    for k in range(1, max_purchases + 1):  # the k-th purchase, for the customers who made one
        made = frequency >= k
        total[made] += rng.gamma(p, 1.0 / nu[made])
    return pd.DataFrame({"frequency": frequency.astype(float), "monetary_value": total / frequency})
