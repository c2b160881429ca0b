"""Precision and recall of the rule labels and the early classifiers against a generated shop's truth."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from retainly.errors import InputError
from retainly.segments.buyer_types.early import per_type_scores, train_classifier
from retainly.segments.buyer_types.features import as_of_day, early_features
from retainly.segments.buyer_types.rules import BUYER_TYPES, NOT_ENOUGH_HISTORY, customer_history
from retainly.store.backends import Store


def _truth(store: Store) -> pd.DataFrame:
    truth = store.table("generator_truth").select("customer_id", "buyer_type").to_pandas()
    if truth.empty:
        raise InputError("buyer-types --evaluate needs the hidden truth of a generated shop, and generator_truth is "
                         "empty: this store was not made by `retainly generate` (on a real shop, use the "
                         "distribution instead)")
    truth["customer_id"] = truth["customer_id"].astype("int64")
    return truth


def evaluate(store: Store, as_of: date | None = None, *, holdout_days: int = 365, random_state: int = 0,
             **rule_settings) -> dict:
    """Precision and recall per type against the generated shop's hidden truth.

    * ``rules``: the rule labels as of ``as_of`` against the truth, over every labelled customer.
    * ``after_1`` / ``after_2``: the early classifiers trained as of ``as_of - holdout_days``
      (on customers labelled then, from orders until then only), scored on the customers whose
      first order came after that day (none of whom it trained on) with at least 1 (2) orders
      by ``as_of``, from their first 1 (2) orders. ``baseline_macro_f1`` predicts the training
      set's most common label for everyone.
    """
    as_of = as_of_day(store, as_of)
    truth = _truth(store)
    history = customer_history(store, as_of, **rule_settings)
    labelled = history[history["label"] != NOT_ENOUGH_HISTORY].merge(truth, on="customer_id")
    rules = per_type_scores(labelled["buyer_type"], labelled["label"], BUYER_TYPES)
    rules["coverage"] = round(len(labelled) / len(history), 4) if len(history) else 0.0
    rules["confusion"] = _confusion(labelled["buyer_type"], labelled["label"])
    result = {"as_of": as_of, "promotion_note": history.attrs["promotion_note"],
              "gone_days": history.attrs["gone_days"], "enough_history_days": history.attrs["enough_history_days"],
              "rules": rules}
    trained_as_of = as_of - timedelta(days=holdout_days)
    for after in (1, 2):
        classifier = train_classifier(store, trained_as_of, after, random_state=random_state, **rule_settings)
        features = early_features(store, as_of, after)
        test = features[features["first_order_on"] > trained_as_of].merge(truth, on="customer_id")
        predicted = classifier.predict(test.reset_index(drop=True))
        scored = per_type_scores(test["buyer_type"], predicted["predicted_type"], BUYER_TYPES)
        majority = max(classifier.label_counts, key=classifier.label_counts.get)
        scored["baseline"] = majority
        scored["baseline_macro_f1"] = per_type_scores(test["buyer_type"], np.full(len(test), majority, dtype=object),
                                                BUYER_TYPES)["macro_f1"]
        scored["trained_as_of"] = trained_as_of
        scored["training_customers"] = classifier.training_customers
        scored["cross_validated_against_rules"] = classifier.cross_validated
        scored["confusion"] = _confusion(test["buyer_type"], predicted["predicted_type"])
        result[f"after_{after}"] = scored
    return result


def _confusion(truth, predicted) -> dict:
    """{true type: {label: customers}}."""
    table = pd.crosstab(pd.Series(np.asarray(truth), name="truth"), pd.Series(np.asarray(predicted), name="label"))
    return {str(t): {str(p): int(v) for p, v in row.items() if v} for t, row in table.iterrows()}
