"""Playbooks: what happens to whom (definitions, the built-in library), and the outbox that
delivers their actions exactly once (retainly.playbooks.outbox)."""
