"""The REST API (`retainly serve`, docs/api.md): FastAPI routes over the core's services.

``app.create_app`` builds the app over one workspace; ``auth`` checks API keys and roles;
``errors`` turns the core's error tree into JSON; ``pages`` shapes lists and JSON bodies; the
``routes_*`` modules hold the endpoints under ``/api/v1``. The web pages come later (issue 14).
"""
