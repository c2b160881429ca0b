"""Access to the REST API: API keys with roles (keys.py); users and sessions come later (issue 14)."""
