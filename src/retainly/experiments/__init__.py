"""Holdout experiments: whether each playbook added revenue, honestly (docs/experiments.md)."""
