"""The core's domain services: one per domain, handed out by ``Workspace``.

``ws.data`` (imports, the generator, what the store holds), ``ws.schema``, ``ws.measures``
(KPIs, cohorts), ``ws.rfm``, ``ws.predictions``, ``ws.lifecycle``, ``ws.insights`` (buyer
types, reorders), ``ws.customers`` (one customer's 360 view) and ``ws.reports`` (the report's
data). Each returns typed results (``retainly.results``). Methods that compute and store are
verbs (``compute``, ``fit``, ``ensure``); methods that read are nouns (``scores``,
``segments``, ``counts``). Derived results are declared once in ``derived.py``.
"""
