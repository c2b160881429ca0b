"""Audiences: customer fields, a rule language over them, its compilation to the engine, and
memberships kept per evaluation (docs/audiences.md)."""
