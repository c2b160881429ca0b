"""A real local HTTP server for webhook tests: it records every request and answers with a
scripted status, optionally after a delay (to be killed mid-run)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """``answer(key, nth request of that key)`` is the status; ``delay`` seconds before each answer.

    Each request is recorded as {key (from the body), idempotency, timestamp, signature, body, status}."""

    def __init__(self, answer: Callable[[str, int], int] = lambda key, nth: 200, delay: float = 0.0):
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = json.loads(body)["key"]
                with receiver.lock:
                    nth = sum(r["key"] == key for r in receiver.requests) + 1
                    status = answer(key, nth)
                    receiver.requests.append({"key": key, "body": body, "status": status,
                                              "idempotency": self.headers["Idempotency-Key"],
                                              "timestamp": self.headers["X-Retainly-Timestamp"],
                                              "signature": self.headers["X-Retainly-Signature"]})
                time.sleep(delay)
                text = b"refused" if status == 400 else b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> list[str]:
        """The key of every request so far, in order of arrival."""
        with self.lock:
            return [r["key"] for r in self.requests]

    def per_key(self, status: int | None = None) -> Counter:
        with self.lock:
            return Counter(r["key"] for r in self.requests if status is None or r["status"] == status)
