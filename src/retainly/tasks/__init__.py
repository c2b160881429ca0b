"""Managers' tasks: made by playbooks, low feedback scores, follow-ups and by hand; assigned,
worked, reminded of and supervised (docs/tasks.md)."""
