"""A real SMTP server on localhost for email tests (aiosmtpd): it keeps every message it
accepts and answers as a test scripts it.

``answer(nth, envelope)`` is called for each message's DATA (nth counts from 1 over the server's
life) and returns what the server does: ``"250"`` accepts (the default), a full reply such as
``"451 4.3.0 try later"`` or ``"550 5.7.1 refused"`` refuses, and ``"drop"`` closes the
connection after the message arrived, before any answer (the sender cannot know it was kept:
it is kept here, as a real server may have). ``refused_recipients`` get 550 at RCPT TO.
``tls``: "starttls" (required before MAIL) or "tls" (implicit), with the self-signed certificate
of tests/data (localhost, 127.0.0.1); ``login``: the (user, password) the server requires.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

DATA = Path(__file__).resolve().parent / "data"


class Mailbox:
    def __init__(self, answer: Callable[[int, object], str] = lambda nth, envelope: "250",
                 refused_recipients: tuple[str, ...] = (), tls: str | None = None,
                 login: tuple[str, str] | None = None):
        self.received: list[dict] = []  # {"from", "to", "raw" (bytes as received), "message"}
        self.lock = threading.Lock()
        self.data_commands = 0
        mailbox = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, options):
                if address in refused_recipients:
                    return "550 5.1.1 no such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                with mailbox.lock:
                    mailbox.data_commands += 1
                    nth = mailbox.data_commands
                what = answer(nth, envelope)
                if what in ("250", "drop"):
                    with mailbox.lock:
                        mailbox.received.append({
                            "from": envelope.mail_from, "to": list(envelope.rcpt_tos), "raw": envelope.original_content,
                            "message": email.message_from_bytes(envelope.original_content,
                                                                policy=email.policy.default)})
                if what == "drop":
                    server.transport.close()
                    return "250 never heard"
                return "250 2.0.0 queued as " + str(nth) if what == "250" else what

        self.port = _free_port()
        options: dict = {}
        if tls is not None:  # the test certificate of tests/data, for localhost and 127.0.0.1
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(DATA / "smtp_test_tls_cert.pem", DATA / "smtp_test_tls_key.pem")
            options = {"tls_context": context, "require_starttls": True} if tls == "starttls" else {
                "ssl_context": context}
        if login is not None:
            def authenticate(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login.decode(), auth_data.password.decode()) == login
                return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

            # Implicit TLS is a TLS connection aiosmtpd does not see as one (it warns of it, harmlessly).
            options.update(authenticator=authenticate, auth_required=True, auth_require_tls=tls == "starttls")
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def keys(self) -> list[str]:
        """The X-Retainly-Key of every message received, in order."""
        with self.lock:
            return [str(item["message"]["X-Retainly-Key"]) for item in self.received]


def _free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd's controller needs its port before it starts
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_settings(port: int, public_url: str = "https://shop.example", **extra: str) -> str:
    """A settings file's ``[channels.email]`` sending to a Mailbox on ``port`` (plain SMTP), with ``extra`` options."""
    lines = ["[channels.email]", 'host = "127.0.0.1"', f"port = {port}", 'security = "none"',
             'from = "news@shop.example"', f'public_url = "{public_url}"',
             *(f'{key} = "{value}"' for key, value in extra.items())]
    return "\n".join(lines) + "\n"
