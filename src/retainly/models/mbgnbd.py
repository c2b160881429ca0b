"""MBG/NBD: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models
for customer base analysis", International Journal of Research in Marketing 24(3).

The BG/NBD with one change: a customer may also drop out right after the first purchase,
so a one-time buyer is not assumed alive. The closed forms are the BG/NBD's with one more
dropout chance (``shift = 1``): see ``bgnbd.py``, where both are written once.
"""

from __future__ import annotations

from retainly.models.bgnbd import BetaGeoModel


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD with parameters ``r, alpha`` (purchase rate) and ``a, b`` (dropout)."""

    name = "mbgnbd"
    title = "MBG/NBD"
    shift = 1
