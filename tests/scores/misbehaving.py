"""A model that misbehaves on purpose, to test that its NaN never reaches the store or the JSON."""

import numpy as np

from retainly.models.heuristic import HeuristicModel


class NaNModel(HeuristicModel):
    """The heuristics, with the first customer's expected purchases NaN."""

    def predict(self, data, horizon, probability=0.5):
        frame = super().predict(data, horizon, probability)
        frame.loc[0, "expected_purchases"] = np.nan
        return frame
