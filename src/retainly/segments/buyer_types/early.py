"""Early identification: the buyer type of customers too new for a rule label.

Per customer, what is known right after their first (or second) order
(``features.early_features``); a regularised logistic regression trained on the rule labels
of the shop's own settled customers predicts the type (scikit-learn).

At scale (20 M customers) the features stay in the engine (``type_inputs``): the classifier
learns from at most ``MAX_TRAINING_CUSTOMERS`` settled customers, every k-th by id, and only
the customers to predict come into Python, in blocks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from ibis.expr.types import Table

from retainly.errors import InputError
from retainly.segments.buyer_types.features import (
    AMOUNTS, CATEGORICAL, FLAGS, as_of_day, check_after_orders, early_rows, feature_columns, first_two_orders,
    order_facts, typed_features,
)
from retainly.segments.buyer_types.rules import BUYER_TYPES, NOT_ENOUGH_HISTORY, rule_table
from retainly.store.backends import Store

MIN_TRAINING_CUSTOMERS = 30
# A fit of seconds on any shop. Measured on the 10 M-order store (benchmarks/RESULTS.md): 91,697 of
# 825,157 settled customers cross-validated as well as all of them (macro-F1 0.511 against 0.5115).
MAX_TRAINING_CUSTOMERS = 100_000
PREDICTION_BLOCK = 100_000  # customers predicted at once: bounds the one-hot matrix in memory


@dataclass(frozen=True)
class TypeInputs:
    """What a day's buyer types are computed from, materialised in the engine for the block of
    ``type_inputs``: ``rules`` (``rules.rule_table``), ``early`` (``features.first_two_orders``) and
    the rules' thresholds (``attrs``, as ``customer_history``'s)."""

    as_of: date
    rules: Table
    early: Table
    attrs: dict


@contextmanager
def type_inputs(store: Store, as_of: date | None = None, **rule_settings) -> Iterator[TypeInputs]:
    """The rule labels and early features of every customer as of ``as_of``, built once for the block."""
    as_of = as_of_day(store, as_of)
    with store.scratch(order_facts(store, as_of)) as facts:
        rules, attrs = rule_table(store, facts, as_of, **rule_settings)
        with store.scratch(rules) as rules, first_two_orders(store, facts, as_of) as early:
            yield TypeInputs(as_of=as_of, rules=rules, early=early, attrs=attrs)


@dataclass
class BuyerTypeClassifier:
    """A fitted early classifier and what its cross-validation against the rule labels showed."""

    after_orders: int
    as_of: date
    model: object  # a fitted scikit-learn Pipeline
    classes: tuple[str, ...]
    features: tuple[str, ...]
    training_customers: int
    settled_customers: int  # all the settled, labelled customers; trained on at most MAX_TRAINING_CUSTOMERS
    label_counts: dict[str, int]
    cross_validated: dict = field(default_factory=dict)
    promotion_note: str = ""

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """customer_id, predicted_type, probability, p_hit_and_run, p_discount_only, p_active."""
        probabilities = np.zeros((len(features), len(self.classes)))
        with _one_thread():
            for start in range(0, len(features), PREDICTION_BLOCK):
                block = features.iloc[start:start + PREDICTION_BLOCK]
                probabilities[start:start + len(block)] = self.model.predict_proba(block[list(self.features)])
        best = probabilities.argmax(axis=1)
        out = pd.DataFrame({
            "customer_id": features["customer_id"].to_numpy(dtype="int64"),
            "predicted_type": np.asarray(self.classes, dtype=object)[best],
            "probability": probabilities.max(axis=1, initial=0.0).round(4),
        })
        for name in BUYER_TYPES:
            known = name in self.classes
            out[f"p_{name}"] = probabilities[:, self.classes.index(name)].round(4) if known else 0.0
        return out


def _one_thread():
    """Fit and predict on one thread: on small frames OpenMP's threads mostly wait for each other,
    and on a busy machine that made a 1-second fit take 30 seconds."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _log_amount(values):
    return np.log1p(np.clip(values, 0.0, None))


def _pipeline(after_orders: int, random_state: int):
    """One-hot categories (rare ones pooled), log-scaled amounts, 0/1 flags; a balanced, L2-regularised
    multinomial logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    amounts = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                            FunctionTransformer(_log_amount), StandardScaler())
    columns = ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
         list(CATEGORICAL[after_orders])),
        ("flags", SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True),
         list(FLAGS[after_orders])),
        ("amounts", amounts, list(AMOUNTS[after_orders])),
    ])
    model = LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000, random_state=random_state)
    return Pipeline([("columns", columns), ("model", model)])


def training_frame(inputs: TypeInputs, after_orders: int,
                   max_customers: int = MAX_TRAINING_CUSTOMERS) -> pd.DataFrame:
    """The early features and rule label of labelled customers whose k-th order is at least ``gone_days``
    old, so their label has settled: all of them up to ``max_customers``, else every k-th by customer id
    (k the smallest that brings them within it; ids follow the order customers arrived, so every period
    keeps its share)."""
    rows, rules = early_rows(inputs.early, after_orders), inputs.rules
    settled_before = inputs.as_of - timedelta(days=int(inputs.attrs["gone_days"]))
    labelled = rules.filter(rules.label != NOT_ENOUGH_HISTORY).select("customer_id", "label")
    train = rows.filter(rows.kth_day <= settled_before).join(labelled, "customer_id")
    settled = int(train.count().execute())
    if settled > max_customers:
        train = train.filter(train.customer_id % math.ceil(settled / max_customers) == 0)
    frame = train.order_by("customer_id").to_pandas()
    typed = typed_features(frame, after_orders)
    typed["label"] = frame["label"].to_numpy(dtype=object)
    typed.attrs.update(settled=settled)
    return typed


def candidates_frame(inputs: TypeInputs, after_orders: int) -> pd.DataFrame:
    """The early features of customers with exactly ``after_orders`` orders and no rule label yet."""
    rows, rules = early_rows(inputs.early, after_orders), inputs.rules
    young = rules.filter(rules.label == NOT_ENOUGH_HISTORY).select("customer_id")
    candidates = rows.filter(rows.orders_to_date == after_orders).join(young, "customer_id")
    return typed_features(candidates.order_by("customer_id").to_pandas(), after_orders)


def per_type_scores(truth, predicted, classes) -> dict:
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=list(classes),
                                                                     zero_division=0)
    per_type = {name: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                       "support": int(s)}
                for name, p, r, f, s in zip(classes, precision, recall, f1, support)}
    macro = f1_score(truth, predicted, labels=[c for c in classes if c in set(truth)], average="macro",
                     zero_division=0)
    accuracy = float(np.mean(np.asarray(truth) == np.asarray(predicted))) if len(truth) else 0.0
    return {"per_type": per_type, "macro_f1": round(float(macro), 4), "accuracy": round(accuracy, 4),
            "customers": int(len(truth))}


def _fit(train: pd.DataFrame, as_of: date, after_orders: int, random_state: int, cv_folds: int,
         promotion_note: str) -> BuyerTypeClassifier:
    """A classifier fitted on ``training_frame``'s rows."""
    counts = train["label"].value_counts()
    if len(train) < MIN_TRAINING_CUSTOMERS or len(counts) < 2:
        raise InputError(
            f"too few settled customers to learn buyer types after {after_orders} order(s) as of {as_of}: "
            f"{len(train)} labelled ({', '.join(f'{k} {v}' for k, v in counts.items()) or 'none'}); need at least "
            f"{MIN_TRAINING_CUSTOMERS} in two types or more. Use a later `as_of` or import more history",
            parameter="as_of")
    classes = tuple(name for name in BUYER_TYPES if name in counts.index)
    columns = list(feature_columns(after_orders))
    x, y = train[columns], train["label"].to_numpy()
    with _one_thread():
        cross_validated = _cross_validate(x, y, counts, classes, after_orders, random_state, cv_folds)
        model = _pipeline(after_orders, random_state).fit(x, y)
    return BuyerTypeClassifier(
        after_orders=after_orders, as_of=as_of, model=model, classes=tuple(model.classes_),
        features=tuple(columns), training_customers=len(train),
        settled_customers=int(train.attrs.get("settled", len(train))),
        label_counts={name: int(counts.get(name, 0)) for name in classes},
        cross_validated=cross_validated, promotion_note=promotion_note,
    )


def _cross_validate(x, y, counts, classes, after_orders: int, random_state: int, cv_folds: int) -> dict:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    cross_validated = {}
    folds = min(cv_folds, int(counts.min()))
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        predicted = cross_val_predict(_pipeline(after_orders, random_state), x, y, cv=splitter)
        cross_validated = per_type_scores(y, predicted, classes)
        cross_validated["folds"] = folds
        majority = np.full(len(y), counts.idxmax(), dtype=object)
        cross_validated["baseline_macro_f1"] = per_type_scores(y, majority, classes)["macro_f1"]
    return cross_validated


def train_classifier(store: Store, as_of: date | None, after_orders: int, *, random_state: int = 0,
                     cv_folds: int = 5, max_customers: int = MAX_TRAINING_CUSTOMERS,
                     **rule_settings) -> BuyerTypeClassifier:
    """Fit the early classifier on the shop's settled, rule-labelled customers as of ``as_of``.

    Features come from each customer's first ``after_orders`` orders only; the target is the
    rule label; at most ``max_customers`` of them (``training_frame``). ``cross_validated`` holds
    per-type precision and recall of a stratified ``cv_folds``-fold cross-validation against the
    rule labels (and the majority-class baseline).
    """
    check_after_orders(after_orders)
    with type_inputs(store, as_of, **rule_settings) as inputs:
        train = training_frame(inputs, after_orders, max_customers)
    return _fit(train, inputs.as_of, after_orders, random_state, cv_folds, inputs.attrs["promotion_note"])


def predict_types(store: Store, as_of: date | None, after_orders: int, *,
                  classifier: BuyerTypeClassifier | None = None, random_state: int = 0,
                  inputs: TypeInputs | None = None, **rule_settings) -> pd.DataFrame:
    """Predicted buyer type of customers with exactly ``after_orders`` orders and no rule label yet.

    Columns: customer_id, predicted_type, probability (of that type), p_hit_and_run,
    p_discount_only, p_active. Trains a classifier as of ``as_of`` unless one is given;
    ``inputs``: ``type_inputs(store, as_of, **rule_settings)`` when the caller already has them.
    """
    check_after_orders(after_orders)
    if inputs is None:
        with type_inputs(store, as_of, **rule_settings) as inputs:
            return predict_types(store, as_of, after_orders, classifier=classifier, random_state=random_state,
                                 inputs=inputs)
    if classifier is None:
        # No cross-validation: its scores are for `train_classifier`'s readers; a prediction only needs the fit.
        classifier = _fit(training_frame(inputs, after_orders), inputs.as_of, after_orders, random_state, 0,
                          inputs.attrs["promotion_note"])
    predicted = classifier.predict(candidates_frame(inputs, after_orders))
    predicted.attrs.update(as_of=inputs.as_of, after_orders=after_orders,
                           promotion_note=inputs.attrs["promotion_note"])
    return predicted
