"""Buyer types: hit-and-run, discount-only and active, by rules and, early, by a classifier.

Everything is computed as of a day (purchase orders of known customers through the end of
that day); ``docs/buyer_types.md`` has the definitions and the measured figures.

* ``features``: promotion sources, per-order facts and the early features, built in the engine;
* ``rules``: the rule labels with their reasons, the thresholds, the distribution;
* ``early``: the early classifiers after 1 and 2 orders (training, prediction);
* ``evaluation``: precision and recall against a generated shop's hidden truth.
"""

from retainly.segments.buyer_types.early import predict_types, train_classifier
from retainly.segments.buyer_types.evaluation import evaluate
from retainly.segments.buyer_types.features import early_features, feature_columns, order_facts, promotion_sources
from retainly.segments.buyer_types.rules import (
    BUYER_TYPES, NOT_ENOUGH_HISTORY, customer_history, distribution, rule_labels,
)

__all__ = ["BUYER_TYPES", "NOT_ENOUGH_HISTORY", "customer_history", "distribution", "early_features", "evaluate",
           "feature_columns", "order_facts", "predict_types", "promotion_sources", "rule_labels",
           "train_classifier"]
