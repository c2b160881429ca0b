"""Tests of the delivery channels (retainly.messaging)."""
