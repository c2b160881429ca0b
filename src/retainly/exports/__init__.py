"""Audience exports without the store: normalisation, hashing and each platform's files and API bodies."""
