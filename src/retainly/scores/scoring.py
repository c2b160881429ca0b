"""`retainly score`: choose a model, fit it on the shop's summary, predict every customer, store it.

The choice (``--model auto``) is a backtest on the shop's own history: the last stretch before
the as-of date (the horizon, at most a third of the history) is held out, each purchase model
is fitted on what came before, and the one with the smallest per-customer error (RMSE of
expected vs actual purchase days) wins; a model within ``CLOSE_CALL`` of it wins instead if
its P(alive) ranks the customers who came back better (``p_alive_auc``), because playbooks act
on P(alive). A backtest total off by more than ``CAUTION_ERROR`` adds a warning to the reason.
Too few repeat buyers for any model (``min_repeat_buyers``) means the transparent
heuristics of ``retainly.models.heuristic``, and every score says which was used. The chance
to order within ``order_window_days`` is then checked against the shop's history and
recalibrated where that helps (``retainly.scores.calibration``).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from ibis.expr.types import Table

from retainly.errors import ConvergenceError, InputError
from retainly.features.model_summary import ModelInputs, bought_days, customer_summary, model_inputs
from retainly.features.orders import purchase_span
from retainly.models import PURCHASE_MODELS
from retainly.models.heuristic import HeuristicModel
from retainly.scores.backtest import BacktestData, evaluate, fit_model, short_title
from retainly.scores.by_history import customer_rows, fit_spend_by_history, history_table, predict_histories
from retainly.scores.calibration import Calibration, calibrate
from retainly.scores.holdout import backtest_data
from retainly.settings import TIME_UNITS, ModelSettings
from retainly.store.backends import Store

MODEL_CHOICES = ("auto", *PURCHASE_MODELS, HeuristicModel.name)
DEFAULT_MODEL = "mbgnbd"  # when the history is too short to backtest: no one-time buyer is assumed alive
CLOSE_CALL = 0.02  # RMSEs within 2 % of the best count as a tie
CAUTION_ERROR = 0.2  # a backtest total off by more than this earns a warning in the reason
SCORE_COLUMNS = ("as_of", "customer_id", "fit_id", "model", "p_alive", "expected_orders", "p_order",
                 "expected_spend", "clv", "next_order_date", "confidence", "order_chance")


def choose_model(store: Store, as_of: date, settings: ModelSettings, progress=None,
                 days: Table | None = None) -> tuple[str, str, list[dict] | None]:
    """(model, why, backtest results) by a backtest on the history before ``as_of``; ``progress``
    hears a line per model backtested; ``days`` are ``bought_days`` as of ``as_of`` when at hand."""
    first = purchase_span(store)[0]
    history_days = (as_of - first.date()).days if first else 0
    holdout_days = min(settings.horizon_days, history_days // 3)
    if holdout_days < 28:
        return DEFAULT_MODEL, (f"{history_days} days of history are too few to backtest (a holdout needs 4 weeks); "
                               f"{PURCHASE_MODELS[DEFAULT_MODEL].title} is the default"), None
    cut = as_of - timedelta(days=holdout_days)
    data = backtest_data(store, cut, as_of, settings.time_unit, days)
    if data.inputs.repeat_buyers < settings.min_repeat_buyers:
        return DEFAULT_MODEL, (f"fewer than {settings.min_repeat_buyers} repeat buyers before {cut} to backtest on; "
                               f"{PURCHASE_MODELS[DEFAULT_MODEL].title} is the default"), None
    results = evaluate(data, list(PURCHASE_MODELS), settings.penalizer, progress=progress)
    fitted = [r for r in results if "error" not in r and np.isfinite(r["rmse"])]
    if not fitted:
        return DEFAULT_MODEL, (f"no model could be fitted on the history before {cut} to backtest on "
                               f"({results[0]['error']}); {PURCHASE_MODELS[DEFAULT_MODEL].title} is the default"), \
            results
    best = min(fitted, key=lambda r: r["rmse"])
    close = [r for r in fitted if r["rmse"] <= best["rmse"] * (1 + CLOSE_CALL)]
    chosen = max(close, key=lambda r: (r["p_alive_auc"] or 0, -r["rmse"]))
    title = PURCHASE_MODELS[chosen["model"]].title
    others = ", ".join(f"{PURCHASE_MODELS[r['model']].title} {r['rmse']:.3f}" for r in fitted if r is not chosen)
    why = (f"backtest on {holdout_days} days before {as_of}: {title} predicted {chosen['predicted_purchases']:,.0f} "
           f"purchases against {chosen['actual_purchases']:,.0f} with per-customer RMSE {chosen['rmse']:.3f}"
           + (f" ({others})" if others else " (the only model that could be fitted)"))
    if chosen is not best:
        why += (f"; within {CLOSE_CALL:.0%} of the best, it ranks returning customers better by P(alive) "
                f"(AUC {chosen['p_alive_auc']:.2f} vs {best['p_alive_auc']:.2f})")
    error = chosen["aggregate_error"]
    if error is not None and abs(error) > CAUTION_ERROR:
        direction = "over" if error > 0 else "under"
        why += (f"; caution: it {direction}-predicted that holdout by {abs(error):.0%}, so the shop's buying is not "
                f"steady over time (seasons, a change in the business): read expected orders as "
                f"{'an upper' if error > 0 else 'a lower'} bound")
    return chosen["model"], why, results


def calibrator(store: Store, data: BacktestData, settings: ModelSettings):
    """For a backtest: each model's chance-to-order map, learnt as ``score`` learns it, on the
    history before the calibration end only, for windows as long as the holdout."""
    return lambda model: calibrate(store, data.calibration_end, model, settings, data.holdout_days)


def automatic_choice(store: Store, data: BacktestData, settings: ModelSettings, rows: list[dict]) -> dict:
    """The backtest row of the model ``score`` would choose as of the calibration end for a horizon
    as long as the holdout (its choice made on the history before the calibration end only), as
    ``model`` "auto" with ``chosen`` and ``why``; ``rows`` are the models already evaluated."""
    settings = replace(settings, horizon_days=data.holdout_days)
    repeat_buyers = data.inputs.repeat_buyers
    if repeat_buyers < settings.min_repeat_buyers:
        name, why = HeuristicModel.name, _too_few(repeat_buyers, settings)
    else:
        name, why, _ = choose_model(store, data.calibration_end, settings)
    row = next((r for r in rows if r["model"] == name), None)
    if row is None:
        row = evaluate(data, [name], settings.penalizer, calibrator(store, data, settings))[0]
    return {**row, "model": "auto", "chosen": name, "why": why}


def score(store: Store, as_of: date, model: str, settings: ModelSettings, progress=None) -> dict:
    """Fit, predict and store every customer's scores as of ``as_of``; return the fit record.
    ``progress`` hears a line per step (each model backtested, the fit, the calibration).

    The models read distinct histories with weights from the engine and predict each once; the
    engine joins the predictions back to customers (``scores.by_history``). Every customer's purchase
    days are grouped once (``bought_days``); the summaries at the date and at the backtest's cut, the
    holdout and the calibration windows all read them."""
    progress = progress or (lambda line: None)
    if model not in MODEL_CHOICES:
        raise InputError(f"`model` {model}: choose one of {', '.join(MODEL_CHOICES)}", parameter="model")
    with store.scratch(bought_days(store, as_of)) as days, \
            store.scratch(customer_summary(store, as_of, days)) as customers:
        inputs = model_inputs(customers, settings.time_unit)
        if inputs.customers == 0:
            raise InputError(f"no customer had bought by {as_of}; import orders first or pick a later `as_of`",
                             parameter="as_of")
        return _score(store, as_of, model, settings, progress, inputs, days)


def _score(store: Store, as_of: date, model: str, settings: ModelSettings, progress, inputs: ModelInputs,
           days: Table) -> dict:
    unit_days = TIME_UNITS[settings.time_unit]
    repeat_buyers = inputs.repeat_buyers
    backtest = None
    checked, every = checked_days(days, inputs.customers, settings.check_customers)
    if repeat_buyers < settings.min_repeat_buyers:
        name, why = HeuristicModel.name, f"{_too_few(repeat_buyers, settings)}: transparent heuristics instead"
    elif model == "auto":
        name, why, backtest = choose_model(store, as_of, settings, progress, checked)
    else:
        name, why = model, "chosen with --model"
    progress(f"fitting {short_title(name)} on all the history to {as_of}")
    fitted, name, why = _fit_first(_candidates(name, backtest), inputs, unit_days, settings.penalizer, why)
    spend_model, spend_note = fit_spend_by_history(inputs, unit_days)
    if spend_note:
        why += f"; spend: {spend_note}"
    scores = predict_histories(fitted, inputs, as_of, settings)
    numbers = scores[["p_alive", "expected_orders", "p_order"]].to_numpy(dtype=float)
    if name != HeuristicModel.name and not np.isfinite(numbers).all():
        name = HeuristicModel.name
        why = f"{fitted.title} gave predictions that are not finite numbers; heuristics instead"
        fitted = fit_model(name, inputs, unit_days)
        scores = predict_histories(fitted, inputs, as_of, settings)
    elif not np.isfinite(numbers).all():
        raise InputError("the heuristics gave predictions that are not finite numbers; check the summary's dates")
    progress(f"checking the chance to order within {settings.order_window_days} days against the last year")
    calibration, note = calibrate(store, as_of, fitted, settings, settings.order_window_days, checked)
    if calibration is not None:
        scores["order_chance"] = calibration.apply(scores["order_chance"].to_numpy())
    why += f"; chance to order within {settings.order_window_days} days: " + (
        note if calibration is not None else f"the model's own, not calibrated ({note})")
    if every > 1:
        why += (f"; {'the backtest and ' if backtest is not None else ''}this check read every {_ordinal(every)} "
                f"customer by id (about {inputs.customers / every:,.0f} of {inputs.customers:,.0f}; "
                f"[models] check_customers = {settings.check_customers:,})")
    return _store(store, as_of, fitted, spend_model, inputs, scores, why, backtest, repeat_buyers, settings,
                  calibration)


def checked_days(days: Table, customers: float, most: int) -> tuple[Table, int]:
    """(days, k): the purchase days the backtest and the chance-to-order check read, those of every k-th
    customer by id, k the smallest that brings ``customers`` within ``most`` (1: everyone). Both measure
    how well a model does on average, which a million customers tell as well as twenty; ids follow the
    order customers arrived, so every period keeps its share. The fit and predictions read everyone."""
    every = max(1, math.ceil(customers / most))
    return (days if every == 1 else days.filter(days.customer_id % every == 0)), every


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _too_few(repeat_buyers: int, settings: ModelSettings) -> str:
    return f"{repeat_buyers} repeat buyers, fewer than the {settings.min_repeat_buyers} a model needs"


def _candidates(name: str, backtest: list[dict] | None) -> list[str]:
    """The chosen model, then (after an auto choice) the others that fitted in the backtest, ranked
    by the same rule: within CLOSE_CALL of the best RMSE by P(alive) ranking, then the rest by RMSE."""
    fitted = [r for r in backtest or [] if "error" not in r and np.isfinite(r["rmse"]) and r["model"] != name]
    if not fitted:
        return [name]
    best = min(r["rmse"] for r in fitted)
    close = lambda r: r["rmse"] <= best * (1 + CLOSE_CALL)  # noqa: E731
    ranked = sorted(fitted, key=lambda r: (not close(r), -(r["p_alive_auc"] or 0) if close(r) else r["rmse"]))
    return [name] + [r["model"] for r in ranked]


def _fit_first(names: list[str], summary, unit_days: float, penalizer: float, why: str):
    """(model, name, why): the first of ``names`` that fits the whole history, else the heuristics."""
    failures = []
    for name in names:
        try:
            return fit_model(name, summary, unit_days, penalizer), name, why + "".join(failures)
        except ConvergenceError as error:
            failures.append(f"; {PURCHASE_MODELS[name].title} could not be fitted on all the history ({error})")
    return fit_model(HeuristicModel.name, summary, unit_days), HeuristicModel.name, why + "".join(failures) + \
        "; heuristics instead"


def _store(store: Store, as_of: date, model, spend_model, inputs: ModelInputs, scores: pd.DataFrame, why: str,
           backtest, repeat_buyers: int, settings: ModelSettings, calibration: Calibration | None) -> dict:
    fit_id = int(store.fetchone("SELECT nextval('fit_ids')")[0])
    confidence = "heuristic" if isinstance(model, HeuristicModel) else "model"
    record = {
        "fit_id": fit_id, "as_of": as_of, "model": model.name, "time_unit": settings.time_unit,
        "params": json.dumps(model.to_dict()["params"]), "spend_model": spend_model.name,
        "spend_params": json.dumps(_finite(spend_model.to_dict()["params"])),
        "log_likelihood": getattr(model, "log_likelihood_", None), "customers": int(round(inputs.customers)),
        "repeat_buyers": repeat_buyers, "horizon_days": settings.horizon_days,
        "discount_rate": settings.discount_rate, "confidence": confidence, "reason": why,
        "backtest": json.dumps(backtest) if backtest is not None else None, "fitted_at": datetime.now(),
        "order_window_days": settings.order_window_days,
        "calibration": json.dumps(calibration.to_dict()) if calibration is not None else None,
    }
    columns = ", ".join(record)
    marks = ", ".join("?" for _ in record)
    with store.transaction(), store.uploaded(history_table(scores)) as predicted:
        store.execute(f"INSERT INTO model_fits ({columns}) VALUES ({marks})", tuple(record.values()))
        rows = customer_rows(inputs.customers_table, predicted, spend_model, as_of, fit_id, model.name, confidence)
        store.replace_rows("customer_scores", rows.select(*SCORE_COLUMNS), as_of=as_of)
    return {**record, "params": json.loads(record["params"]), "spend_params": json.loads(record["spend_params"]),
            "backtest": backtest, "calibration": calibration.to_dict() if calibration is not None else None}


def _finite(values: dict) -> dict:
    return {k: (v if isinstance(v, (int, float)) and math.isfinite(v) else None) for k, v in values.items()}
