"""What every model shares: reading a summary, merging identical histories, fitting, saving.

A model file holds only its likelihood (with its gradient) and closed-form predictions. This
module does the rest once:

* ``read_columns`` takes a pandas, Polars or Arrow frame and checks the literature's columns;
* ``Histories`` merges identical ``(frequency, recency, T)`` rows into one row with a weight,
  so fitting and predicting cost grows with distinct histories, not with customers (on a day
  grid, 10 M customers have under 1 M distinct histories);
* ``fit_log_parameters`` maximises the weighted log-likelihood over log-parameters with
  L-BFGS-B from a deterministic start, refuses to return garbage (``ConvergenceError``) and
  computes standard errors from the Hessian (central differences of the gradient).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from retainly.errors import ConvergenceError, InputError

UNCLEAR_RELATIVE_ERROR = 100.0  # a standard error above 100x its estimate: the data do not determine it
LOG_BOUND = 25.0  # log-parameters stay within e^-25 .. e^25; a fit ending there has not converged
# What each model's parameters describe, for messages that say what the data failed to tell.
MEANINGS = {"r": "purchase rate", "alpha": "purchase rate", "a": "dropout chance", "b": "dropout chance",
            "s": "dropout rate", "beta": "dropout rate", "p": "spend", "q": "spend", "v": "spend"}


def column_names(data) -> set[str]:
    """The column names of a pandas, Polars (``.columns``) or Arrow (``.column_names``) frame."""
    return set(data.column_names if hasattr(data, "column_names") else getattr(data, "columns", []))


def read_columns(data, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named columns of ``data`` (pandas, Polars or Arrow) as float arrays, checked for gaps."""
    available = column_names(data)
    missing = [name for name in names if name not in available]
    if missing:
        raise InputError(f"the summary has no column {', '.join(repr(m) for m in missing)}; a model needs "
                         f"{', '.join(names)} (frequency counts repeat purchases, as in the literature)")
    columns = {}
    for name in names:
        values = np.asarray(data[name], dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(f"row {bad[0]} of the summary has {name} = {values[bad[0]]}; every {name} must be a number")
        columns[name] = values
    return columns


def check_histories(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> None:
    """Raise ``InputError`` naming the first row that is not a possible purchase history."""
    problems = (
        (frequency < 0, "frequency (repeat purchases) is negative"),
        (frequency != np.floor(frequency), "frequency (repeat purchases) is not a whole number"),
        (T < 0, "T (time since the first purchase) is negative"),
        (recency < 0, "recency (time from first to last purchase) is negative"),
        (recency > T, "recency is larger than T: the last purchase lies after the cut-off"),
        ((frequency == 0) & (recency != 0), "frequency is 0 but recency is not: with no repeat purchase it must be 0"),
    )
    for broken, why in problems:
        rows = np.flatnonzero(broken)
        if rows.size:
            row = rows[0]
            raise InputError(f"row {row} of the summary (frequency {frequency[row]:g}, recency {recency[row]:g}, "
                             f"T {T[row]:g}): {why}; rebuild the summary with one purchase per customer per period")


@dataclass
class Histories:
    """Distinct ``(frequency, recency, T)`` rows with their weights, and the way back to customers."""

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    weight: np.ndarray  # customers per distinct history
    inverse: np.ndarray  # customer i has history inverse[i]

    @classmethod
    def from_data(cls, data, weights: np.ndarray | None = None) -> Histories:
        """Merge a summary's rows; a ``Histories`` passes through, so callers that predict several
        things for the same customers merge them once (``Histories.from_data(summary)``)."""
        if isinstance(data, Histories):
            return data
        columns = read_columns(data, ("frequency", "recency", "T"))
        return cls.from_arrays(columns["frequency"], columns["recency"], columns["T"], weights)

    @classmethod
    def from_arrays(cls, frequency, recency, T, weights=None) -> Histories:
        frequency, recency, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        check_histories(frequency, recency, T)
        # Hash-factorize each column, pack the three codes into one integer, factorize that:
        # linear time, where np.unique(axis=0) would sort 10 M rows lexicographically.
        codes, sizes = [], []
        for column in (frequency, recency, T):
            code, uniques = pd.factorize(column)
            codes.append(code.astype(np.int64))
            sizes.append(len(uniques))
        if float(sizes[0]) * sizes[1] * sizes[2] < 2.0**62:
            key = (codes[0] * sizes[1] + codes[1]) * sizes[2] + codes[2]
        else:  # too many distinct values to pack: pair them in two steps
            key = pd.factorize(codes[0] * sizes[1] + codes[1])[0].astype(np.int64) * sizes[2] + codes[2]
        inverse, _ = pd.factorize(key)
        first = np.zeros(inverse.max() + 1 if len(inverse) else 0, dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(inverse))[::-1]  # first customer of each history
        # Distinct histories in sorted order, whatever the order of the rows: the optimiser then
        # sees the same numbers, summed in the same order, and fits bit for bit the same.
        order = np.lexsort((T[first], recency[first], frequency[first]))
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        inverse = rank[inverse]
        first = first[order]
        weight = np.bincount(inverse, weights=weights, minlength=len(first)).astype(float)
        return cls(frequency[first], recency[first], T[first], weight, inverse)

    @property
    def customers(self) -> float:
        return float(self.weight.sum())

    def spread(self, values: np.ndarray) -> np.ndarray:
        """Per-history results back to one value per customer, in the input's order."""
        return values[self.inverse]


def frequency_terms(frequency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct frequencies and each row's index into them: terms in x alone are computed once per x."""
    distinct, index = np.unique(frequency, return_inverse=True)
    return distinct, index


def distinct_pairs(x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index, distinct x, distinct T): each row's index into the distinct (x, T) pairs of two
    arrays (broadcast together). The hypergeometric terms of the expectations depend on frequency
    and age alone, and far fewer histories differ in those two than in all three."""
    x, T = (np.ravel(v) for v in np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(T, dtype=float)))
    x_code, x_values = pd.factorize(x, use_na_sentinel=False)
    T_code, T_values = pd.factorize(T, use_na_sentinel=False)
    index, keys = pd.factorize(x_code.astype(np.int64) * len(T_values) + T_code)
    return index, x_values[keys // len(T_values)], T_values[keys % len(T_values)]


LogLikelihood = Callable[[np.ndarray], tuple[float, np.ndarray]]


def fit_log_parameters(
    names: tuple[str, ...],
    start: np.ndarray,
    total_log_likelihood: LogLikelihood,
    customers: float,
    penalizer: float = 0.0,
    model: str = "model",
    with_errors: bool = True,
    max_evaluations: int = 5000,
) -> tuple[dict[str, float], float, dict[str, float] | None]:
    """Maximise ``total_log_likelihood(params) -> (LL, dLL/dparams)`` over log-parameters.

    Returns the parameters, the log-likelihood at the optimum and standard errors (from the
    inverse of the observed information). The objective is scaled per customer, so the
    optimiser's tolerances mean the same at 2,000 and at 10 M customers.
    """
    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            value, gradient = total_log_likelihood(params)
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return np.inf, np.zeros_like(log_params)
        value = -value / customers + penalizer * np.sum(params**2)
        gradient = (-gradient / customers + 2 * penalizer * params) * params  # chain rule: d/dlog θ = θ d/dθ
        return value, gradient

    start_value, _ = objective(np.log(start))
    if not np.isfinite(start_value):
        raise ConvergenceError(f"the {model} log-likelihood cannot be computed at the starting point "
                               f"{_show(names, start)}; check the summary for extreme values")
    def search(begin: np.ndarray, budget: int):
        return minimize(objective, begin, jac=True, method="L-BFGS-B", bounds=[(-LOG_BOUND, LOG_BOUND)] * len(names),
                        options={"maxiter": 2000, "maxfun": budget, "ftol": 1e-11, "gtol": 1e-8})

    # One BLAS thread: the weighted sums are too small to gain from threads, and on a busy
    # machine OpenBLAS's spinning threads made fits several times slower (benchmarks/RESULTS.md).
    with threadpool_limits(1, user_api="blas"):
        result = search(np.log(start), max_evaluations)
        evaluations = result.nfev
        if not result.success and max_evaluations - evaluations > 10:  # a line search that lost its way: go on
            result = search(result.x, max_evaluations - evaluations)
            evaluations += result.nfev
    params = np.exp(result.x)
    at_bound = [n for n, v in zip(names, result.x) if abs(v) > LOG_BOUND - 1]
    if at_bound:
        raise ConvergenceError(
            f"the {model} fit drove {', '.join(at_bound)} to the edge of the search ({_show(names, params)}): "
            f"the data do not pin down {_meaning(at_bound)} (too few repeat buyers, or histories the model does "
            f"not describe); "
            f"{_advice(penalizer)}")
    gradient_size = float(np.max(np.abs(result.jac))) if result.jac is not None else np.inf
    if not result.success and gradient_size > 1e-5:
        steepest = names[int(np.argmax(np.abs(result.jac)))] if result.jac is not None else names[0]
        raise ConvergenceError(
            f"the {model} fit stopped after {evaluations} evaluations without settling: "
            f"{_stop_reason(result, evaluations, max_evaluations)}; it ended at {_show(names, params)}, still "
            f"moving most in {steepest}, which usually means the data do not pin down {_meaning([steepest])}; "
            f"{_advice(penalizer)}")
    log_likelihood, _ = total_log_likelihood(params)
    errors = standard_errors(names, params, total_log_likelihood) if with_errors else None
    # No curvature where the search stopped (a flat ridge or a boundary, not a maximum), or so
    # little that the estimate could be a hundred times off: not a fit to act on.
    unclear = [n for n, value in zip(names, params) if errors is not None
               and not errors[n] <= UNCLEAR_RELATIVE_ERROR * value]  # NaN fails the test too
    if unclear:
        raise ConvergenceError(
            f"the {model} fit ended where the data do not pin down {_meaning(unclear)} ({_show(names, params)}): "
            f"the likelihood is nearly flat along {', '.join(unclear)}; {_advice(penalizer)}")
    return dict(zip(names, params.tolist())), float(log_likelihood), errors


def _meaning(names) -> str:
    """'the dropout rate (s, beta)': what the named parameters describe, where known."""
    described = list(dict.fromkeys(MEANINGS[n] for n in names if n in MEANINGS))
    return f"the {' and the '.join(described)} ({', '.join(names)})" if described else ", ".join(names)


def _stop_reason(result, evaluations: int, budget: int) -> str:
    """Why L-BFGS-B stopped, in plain words (SciPy's own message can be as bare as "ABNORMAL: ")."""
    message = str(result.message or "").strip()
    if evaluations >= budget or "EVALUATIONS EXCEEDS LIMIT" in message.upper():
        return f"its budget of {budget} evaluations ran out"
    if "ABNORMAL" in message.upper():
        return ("no step along its last search direction improved the fit, as happens where the likelihood is "
                "nearly flat")
    if "ITERATIONS" in message.upper():
        return "its limit of iterations ran out"
    return f"the optimiser reported {message!r}" if message.strip(": ") else "the optimiser gave no reason"


def _advice(penalizer: float) -> str:
    """What the user can do, with settings they can reach: the settings file's [models] section."""
    if penalizer >= 0.5:  # the settings file takes penalizers below 1: more would hardly help
        return "a penalizer does not rescue this fit; try a longer history or another model"
    value = min(max(penalizer * 10, 0.01), 0.5)
    more = f"a larger penalizer than {penalizer:g}" if penalizer else "a penalizer"
    return (f"try {more} (in the settings file, retainly.toml or the file $RETAINLY_SETTINGS names: "
            f"[models] penalizer = {value:g}; in Python, the model's penalizer argument), "
            f"a longer history, or another model")


def standard_errors(names, params: np.ndarray, total_log_likelihood: LogLikelihood) -> dict[str, float]:
    """Square roots of the diagonal of the inverse observed information; NaN where it is singular."""
    size = len(params)
    hessian = np.empty((size, size))
    for j in range(size):
        step = 1e-5 * params[j]
        up, down = params.copy(), params.copy()
        up[j] += step
        down[j] -= step
        with np.errstate(all="ignore"):
            hessian[:, j] = (total_log_likelihood(up)[1] - total_log_likelihood(down)[1]) / (2 * step)
    hessian = (hessian + hessian.T) / 2
    try:
        covariance = np.linalg.inv(-hessian)
        variances = np.diag(covariance)
    except np.linalg.LinAlgError:
        variances = np.full(size, np.nan)
    return {n: float(np.sqrt(v)) if v > 0 else float("nan") for n, v in zip(names, variances)}


def _show(names, values) -> str:
    return ", ".join(f"{n} {v:.4g}" for n, v in zip(names, values))


class FittedModel:
    """What every model shares: the penalizer option, the fitted parameters and saving them.

    ``Model(penalizer=0.0)``; after ``fit``: ``params_``, ``log_likelihood_``,
    ``standard_errors_``, ``customers_`` (and whatever ``saved_extras`` names, with a trailing
    underscore). ``to_dict`` / ``from_dict`` turn a fit into JSON-ready values and back.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    saved_extras: ClassVar[tuple[str, ...]] = ()

    def __init__(self, penalizer: float = 0.0):
        if penalizer < 0:
            raise InputError(f"penalizer must be 0 or more, got {penalizer}")
        self.penalizer = penalizer
        self.params_: dict[str, float] | None = None

    def _params(self) -> np.ndarray:
        if self.params_ is None:
            raise InputError(f"this {self.title} model is not fitted yet: call fit(summary) first")
        return np.array([self.params_[n] for n in self.param_names])

    def to_dict(self) -> dict:
        """What a fit learned, as plain JSON-ready values (``from_dict`` reads it back)."""
        return {"model": self.name, "params": dict(self.params_ or {}), "penalizer": self.penalizer,
                **{key: getattr(self, f"{key}_", None)
                   for key in ("log_likelihood", "standard_errors", "customers", *self.saved_extras)}}

    @classmethod
    def from_dict(cls, saved: dict):
        model = cls(penalizer=saved.get("penalizer", 0.0))
        model.params_ = {n: float(saved["params"][n]) for n in cls.param_names}
        for key in ("log_likelihood", "standard_errors", "customers", *cls.saved_extras):
            setattr(model, f"{key}_", saved.get(key))
        return model

    def __repr__(self) -> str:
        if self.params_ is None:
            return f"{type(self).__name__}(not fitted)"
        shown = ", ".join(f"{n}={v:.4g}" for n, v in self.params_.items())
        return f"{type(self).__name__}({shown}, log_likelihood={self.log_likelihood_:.2f})"
