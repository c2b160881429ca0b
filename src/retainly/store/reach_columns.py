"""Migration 18: columns added to two tables the core store created.

* ``products.url`` and ``products.image_url``: a product's page and picture, so a message can
  show the product due for reorder or worth offering with its image and a link (docs/email.md).
* ``customers.postal_code``: the address's postal code, which ad platforms match on.
* ``customers.ads_consent`` and ``customers.ads_consent_at``: whether the customer's consent
  covers advertising (remarketing audiences), apart from email and SMS consent, and when it was
  given or withdrawn (docs/exports.md).

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen the
same way once released.
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V18_REACH_COLUMNS = Migration(
    18,
    "products: page and image links; customers: postal code and consent to advertising (and when)",
    (
        "ALTER TABLE products ADD COLUMN url TEXT",
        "ALTER TABLE products ADD COLUMN image_url TEXT",
        "ALTER TABLE customers ADD COLUMN postal_code TEXT",
        "ALTER TABLE customers ADD COLUMN ads_consent BOOLEAN",
        "ALTER TABLE customers ADD COLUMN ads_consent_at TIMESTAMP",
    ),
)
