"""Messaging: the channels that deliver the outbox's rows (webhook, file; later email, task, export).

``channels.py`` holds the contract between the outbox and a channel (``Delivery`` in,
``Outcome`` out) and ``make_channel``, which builds a channel from its settings.
"""
