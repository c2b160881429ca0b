"""`retainly serve`: the web app and the REST API over the store (docs/web.md, docs/api.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from retainly.cli.app import app, state
from retainly.cli.output import console, warn

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="The address to listen on; another than this machine's own "
                                      "makes the API reachable from the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the web app, the REST API and its docs at /docs until stopped with Ctrl+C.

    People log in to the web app as users (`retainly users add EMAIL --role admin`); every route
    under /api/v1 needs an API key (`retainly keys create --role analyst`). On a DuckDB store the
    server is the one process that may open it: add users and keys first.
    Example: retainly --db shop.duckdb serve --port 8000
    """
    # Imported here: the other commands never need the web server.
    import uvicorn

    from retainly.web.app import create_app

    application = create_app(state.db)
    if host not in LOCAL_HOSTS:
        warn(f"listening on {host}: other machines can reach the API; put it behind a proxy with TLS")
    shown = f"[{host}]" if ":" in host else host
    console.print(f"serving the web app at http://{shown}:{port}/ and the API at http://{shown}:{port}/api/v1 "
                  f"(docs at http://{shown}:{port}/docs); Ctrl+C stops it")
    uvicorn.run(application, host=host, port=port, log_level="info")
