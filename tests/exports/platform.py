"""A real local HTTP server standing in for an export platform's API (Mailchimp, Unisender, Meta).

It records every request (method, path, query, headers, raw body) and answers with a scripted
status and JSON body: ``answer(method, path, nth request)`` returns (status, body dict).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

Answer = Callable[[str, str, int], "tuple[int, dict]"]


def accept(method: str, path: str, nth: int) -> tuple[int, dict]:
    return 200, {"id": f"batch-{nth}", "num_received": 1, "result": {"inserted": 1}}


class Platform:
    def __init__(self, answer: Answer = accept):
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                with platform.lock:
                    nth = len(platform.requests) + 1
                    status, answer = platform.answer(self.command, parts.path, nth)
                    platform.requests.append({"method": self.command, "path": parts.path,
                                              "query": dict(parse_qsl(parts.query)), "headers": dict(self.headers),
                                              "body": body, "status": status})
                text = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.answer = answer
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Platform:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def json_bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def form(self, nth: int = 0) -> dict:
        """The form fields of a request (Unisender's calls), as one dict."""
        with self.lock:
            return dict(parse_qsl(self.requests[nth]["body"].decode(), keep_blank_values=True))
