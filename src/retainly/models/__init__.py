"""Probabilistic customer-base models, written with NumPy/SciPy.

``BetaGeoModel`` (BG/NBD), ``ModifiedBetaGeoModel`` (MBG/NBD) and ``ParetoNBDModel`` model
purchase counts and dropout; ``GammaGammaModel`` the spend per purchase;
``customer_lifetime_value`` combines them. All follow one contract:
``Model(**options).fit(summary) -> self``, with ``params_``, ``log_likelihood_`` and
``standard_errors_`` after fitting, and the literature's column names ``frequency``
(repeat purchases), ``recency``, ``T`` and ``monetary_value``.
"""

from retainly.models.bgnbd import BetaGeoModel
from retainly.models.clv import customer_lifetime_value, discounted_purchases
from retainly.models.gammagamma import GammaGammaModel
from retainly.models.mbgnbd import ModifiedBetaGeoModel
from retainly.models.paretonbd import ParetoNBDModel

PURCHASE_MODELS = {model.name: model for model in (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel)}

__all__ = ["BetaGeoModel", "ModifiedBetaGeoModel", "ParetoNBDModel", "GammaGammaModel", "PURCHASE_MODELS",
           "customer_lifetime_value", "discounted_purchases"]
