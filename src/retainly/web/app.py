"""The FastAPI app: the API's routes under ``/api/v1`` over one store (docs/api.md).

``create_app`` opens the store when it is called, so a wrong URL or an old schema is reported
before the server starts, and closes it when the server stops. One workspace serves every
request, one request at a time (``retainly.web.shop`` says why). The OpenAPI document is at
``/openapi.json`` and the interactive docs at ``/docs`` (Swagger UI, its files served by the
app itself); both are open, every route under ``/api/v1`` needs an API key.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from retainly import __version__
from retainly.services.import_jobs import ImportJobs
from retainly.web import (errors, routes_actions, routes_email, routes_events, routes_imports, routes_shop, routes_site,
                          webapp)
from retainly.web import routes_exports
from retainly.web import routes_tasks
from retainly.web.shop import Shop
from retainly.workspace import Workspace

PREFIX = "/api/v1"
DOCS_ASSETS = "/docs-assets"
log = logging.getLogger("retainly.web")


def create_app(url: str | None = None, settings_path: str | Path | None = None) -> FastAPI:
    """The API over the store at ``url`` (default: $RETAINLY_DATABASE_URL, else ./retainly.duckdb),
    with the analysis settings of ``settings_path`` (default: $RETAINLY_SETTINGS or ./retainly.toml).

    The store must exist and be current: serving never creates one nor upgrades its schema."""
    # Derived results computed on the way to an answer (scores for a new date) are noted in the log.
    ws = Workspace.open(url, create=False, settings=settings_path, progress=log.info)
    try:
        ws.settings  # read now: a broken settings file is reported before the server starts, not per request
    except BaseException:
        ws.close()
        raise
    shop = Shop(ws)
    import_jobs = ImportJobs(shop.use)  # uploads imported in the background (retainly.services.import_jobs)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            import_jobs.close()
            shop.close()

    app = FastAPI(
        title="retainly", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        description="The REST API of retainly, a customer-retention engine. Every route under /api/v1 needs an "
                    "API key (`retainly keys create --role ROLE`), sent as `Authorization: Bearer <token>` or "
                    "`X-API-Key: <token>`. Errors come as {\"error\": message, \"field\": the field at fault}.")
    app.state.shop = shop
    app.state.import_jobs = import_jobs
    _serve_docs_offline(app)
    errors.install(app)
    for router in (*routes_shop.ROUTERS, *routes_actions.ROUTERS, *routes_imports.ROUTERS,
                   *routes_events.ROUTERS, *routes_site.ROUTERS, *routes_email.ROUTERS,
                   *routes_exports.ROUTERS, *routes_tasks.ROUTERS):
        app.include_router(router, prefix=PREFIX)
    app.include_router(routes_site.snippet)  # /snippet.js, the site snippet's script for the shop's pages
    webapp.install(app)  # the web app for people: login and pages (docs/web.md)
    return app


def _serve_docs_offline(app: FastAPI) -> None:
    """The interactive docs at /docs with Swagger UI's files served from here, not from a CDN:
    they work on a shop's network without the internet."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="retainly API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")
