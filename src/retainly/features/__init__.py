"""Per-customer facts and shop-wide measures, as set-based queries inside the engine."""
