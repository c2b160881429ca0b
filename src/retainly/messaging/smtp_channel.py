"""The email channel: each outbox row one message, handed to the shop's SMTP server.

**Outcomes.** SMTP cannot promise exactly once; this channel promises *at most* once:

* the server accepted the message (250 after DATA): ``sent``, with the server's answer;
* it refused for good (a 5xx to MAIL, RCPT or DATA): ``failed``, with its answer; a row whose
  message cannot be built (no address, a malformed one, bigger than ``max_bytes``) too. A 5xx
  to RCPT TO is the address refused: ``refused`` hears of it, to treat it as a bounce;
* it could not take it now (a 4xx, no connection, a connection dropped *before* the message
  went out): tried again up to ``retries`` times within the call, ``backoff * 2**i`` seconds
  apart, then ``retry`` for a later run;
* the connection failed *after* the message went out and before the server's answer: the
  server may have accepted it, so the channel raises ``OutcomeUnknown`` and the delivery loop
  marks the row ``unknown``, never to be sent again.

One connection serves many rows (the delivery loop hands rows one at a time, in batches of
``batch_size``); it is opened on first use, opened again after a failure, and closed by
``close``. ``per_second`` paces the messages. Credentials come from the environment: the
settings name the variables (``username_env``, ``password_env``), never the secret itself.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from retainly.errors import InputError
from retainly.messaging.channels import FAILED, RETRY, SENT, Clock, Delivery, Outcome, one_line, utc_now
from retainly.messaging.email_message import DkimKey, MessageRefused, Sender, check_layout, compose
from retainly.messaging.links import LinkSigner

SECURITY = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
MAX_BYTES = 10 * 1024 * 1024  # most providers refuse more; a message this big is a mistake anyway
_CONNECTION_ERRORS = (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError,
                      ssl.SSLError, socket.timeout)


class OutcomeUnknown(Exception):
    """The message went out and the server's answer did not come back: it may have been accepted."""


class _Transient(Exception):
    """Not accepted, and worth another try: a 4xx, or no connection before the message went out."""


class _Refused(Exception):
    """Refused for good: a 5xx (``recipient``: to RCPT TO, the address itself refused)."""

    def __init__(self, said: str, recipient: bool = False):
        super().__init__(said)
        self.recipient = recipient


class SmtpChannel:
    """Email through an SMTP server (see the module doc)."""

    batch_size = 50

    def __init__(self, host: str, sender: Sender, links: LinkSigner, *, name: str = "email", port: int | None = None,
                 security: str = "starttls", username: str | None = None, password: str | None = None,
                 timeout: float = 30.0, retries: int = 2, backoff: float = 1.0, per_second: float | None = None,
                 max_bytes: int = MAX_BYTES, envelope_from: str | None = None, clock: Clock = utc_now,
                 sleep: Callable[[float], None] = time.sleep,
                 refused: Callable[[Delivery, str, str], None] | None = None, ca_file: str | None = None):
        self.name, self.host, self.security = name, host, security
        self.port = port or DEFAULT_PORTS[security]
        self.sender, self.links = sender, links
        self.username, self.password = username, password
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.per_second, self.max_bytes = per_second, max_bytes
        self.envelope_from = envelope_from or parseaddr(sender.from_address)[1]
        self._clock, self._sleep = clock, sleep
        self._refused = refused  # told (delivery, address, the server's answer) when RCPT TO gets a 5xx
        self.ca_file = ca_file  # a CA to trust besides the system's (a relay with a private certificate)
        self._smtp: smtplib.SMTP | None = None
        self._last_sent = 0.0

    # -- the channel's contract ----------------------------------------------------------------
    def deliver(self, delivery: Delivery, test: bool = False) -> Outcome:
        """Send one row (``test``: a test send, whose unsubscribe link unsubscribes nobody)."""
        try:
            address, raw = compose(delivery, self.sender, None if test else self.links, self._clock())
        except MessageRefused as exc:
            return Outcome(FAILED, str(exc))
        if len(raw) > self.max_bytes:
            return Outcome(FAILED, f"the message is {len(raw):,} bytes, over the limit of {self.max_bytes:,}")
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            self._pace()
            try:
                return Outcome(SENT, self._send(address, raw))
            except _Refused as exc:
                if exc.recipient and self._refused is not None and not test:
                    self._refused(delivery, address, one_line(str(exc)))
                return Outcome(FAILED, one_line(str(exc)))
            except _Transient as exc:
                last = one_line(str(exc))
        return Outcome(RETRY, last)

    def __enter__(self) -> SmtpChannel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (*_CONNECTION_ERRORS, smtplib.SMTPException):
                pass
            self._drop()

    # -- one message -----------------------------------------------------------------------------
    def _send(self, address: str, raw: bytes) -> str:
        """The server's answer to the accepted message; _Refused, _Transient or OutcomeUnknown otherwise."""
        try:
            smtp = self._connection()
            self._expect(smtp, smtp.mail(self.envelope_from), "MAIL FROM")
            self._expect(smtp, smtp.rcpt(address), "RCPT TO", accepted=(250, 251), recipient=True)
            code, answer = smtp.docmd("DATA")
            if code != 354:
                self._expect(smtp, (code, answer), "DATA")
        except _CONNECTION_ERRORS as exc:
            self._drop()
            raise _Transient(f"no connection to {self.host}:{self.port} ({type(exc).__name__}: {exc}); "
                             "the message was not sent") from None
        except smtplib.SMTPException as exc:
            self._drop()
            raise _Transient(f"{self.host}:{self.port} answered oddly ({exc}); the message was not sent") from None
        try:  # from here the message is on its way: a failure leaves its fate unknown
            body = re.sub(rb"(?m)^\.", b"..", raw)
            smtp.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
            code, answer = smtp.getreply()
        except (*_CONNECTION_ERRORS, smtplib.SMTPException) as exc:
            self._drop()
            raise OutcomeUnknown(f"the connection to {self.host}:{self.port} failed after the message was sent and "
                                 f"before the server answered ({type(exc).__name__}); it may have arrived") from None
        self._expect(smtp, (code, answer), "the message")
        self._last_sent = time.monotonic()
        return f"{code} {_text(answer)}"

    def _expect(self, smtp: smtplib.SMTP, reply: tuple[int, bytes], what: str, accepted=(250,),
                recipient: bool = False) -> None:
        code, answer = reply
        if code in accepted:
            return
        try:
            smtp.rset()  # end this message's transaction; the connection serves the next one
        except (*_CONNECTION_ERRORS, smtplib.SMTPException):
            self._drop()
        said = f"{what}: {code} {_text(answer)}"
        if 500 <= code < 600:
            raise _Refused(said, recipient)
        raise _Transient(said)

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            context = ssl.create_default_context(cafile=self.ca_file)
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                smtp.ehlo()
                if self.security == "starttls":
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                smtp.close()
                raise _Transient(f"{self.host} refused the login ({exc.smtp_code} {_text(exc.smtp_error)}): "
                                 "check the user and password variables") from None
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            except OSError:
                pass
        self._smtp = None

    def _pace(self) -> None:
        if self.per_second:
            wait = self._last_sent + 1.0 / self.per_second - time.monotonic()
            if wait > 0:
                self._sleep(wait)


def _text(answer) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


# -- built from settings --------------------------------------------------------------------------
TEXT_OPTIONS = ("host", "security", "from", "public_url", "shop_name", "reply_to", "unsubscribe_mailto",
                "postal_address", "envelope_from", "dkim_domain", "dkim_selector", "dkim_key_file",
                "username_env", "password_env", "layout_file", "logo_url", "colour", "shop_url", "tls_ca_file")
BOOLEAN_OPTIONS = ("track",)
NUMBER_OPTIONS = {"port": int, "timeout": float, "retries": int, "backoff": float, "per_second": float,
                  "max_bytes": int}


def from_settings(name: str, options: dict, links: LinkSigner, number: Callable,
                  refused: Callable[[Delivery, str, str], None] | None = None) -> SmtpChannel:
    """The channel of a ``[channels.<name>]`` section of ``kind = "smtp"`` (docs/email.md)."""
    for key in TEXT_OPTIONS:
        if key in options and not (isinstance(options[key], str) and options[key].strip()):
            raise InputError(f"channel {name!r}: `{key}` must be a non-empty text", parameter=key)
    for key in BOOLEAN_OPTIONS:
        if key in options and not isinstance(options[key], bool):
            raise InputError(f"channel {name!r}: `{key}` must be true or false, not {options[key]!r}", parameter=key)
    for key in ("host", "from", "public_url"):
        if key not in options:
            raise InputError(f"channel {name!r} (smtp) needs option `{key}`; docs/email.md shows an example",
                             parameter=key)
    security = options.get("security", "starttls")
    if security not in SECURITY:
        raise InputError(f"channel {name!r}: `security` must be one of {', '.join(SECURITY)}, not {security!r}",
                         parameter="security")
    public_url = options["public_url"].strip().rstrip("/")
    parts = urlsplit(public_url)
    local = parts.scheme == "http" and (parts.hostname or "") in ("localhost", "127.0.0.1", "::1")
    if not (parts.scheme == "https" and parts.hostname) and not local:
        raise InputError(f"channel {name!r}: `public_url` must be the https address customers reach `retainly "
                         f"serve` at (one-click unsubscribe needs https), not {public_url!r}", parameter="public_url")
    sender = Sender(from_address=_checked_address(name, "from", options["from"], display=True),
                    public_url=public_url, shop_name=options.get("shop_name", ""),
                    reply_to=options.get("reply_to") and _checked_address(name, "reply_to", options["reply_to"], True),
                    unsubscribe_mailto=options.get("unsubscribe_mailto")
                    and _checked_address(name, "unsubscribe_mailto", options["unsubscribe_mailto"]),
                    postal_address=options.get("postal_address"), dkim=_dkim(name, options),
                    layout=_layout(name, options), logo_url=options.get("logo_url"),
                    colour=_colour(name, options.get("colour", "#059669")), track=options.get("track", True),
                    shop_url=options.get("shop_url"))
    numbers = {key: number(name, key, options[key], kind) for key, kind in NUMBER_OPTIONS.items() if key in options}
    user, password = (os.environ.get(options.get(key, default)) or None for key, default in
                      (("username_env", "RETAINLY_SMTP_USER"), ("password_env", "RETAINLY_SMTP_PASSWORD")))
    envelope = options.get("envelope_from") and _checked_address(name, "envelope_from", options["envelope_from"])
    ca_file = options.get("tls_ca_file")
    if ca_file is not None and not Path(ca_file).expanduser().is_file():
        raise InputError(f"channel {name!r}: `tls_ca_file` {ca_file} is not a file; give the PEM of the CA that "
                         "signed the mail server's certificate", parameter="tls_ca_file")
    return SmtpChannel(options["host"].strip(), sender, links, name=name, security=security, username=user,
                       password=password, envelope_from=envelope, refused=refused,
                       ca_file=str(Path(ca_file).expanduser()) if ca_file else None, **numbers)


def _checked_address(name: str, key: str, text: str, display: bool = False) -> str:
    address = parseaddr(text)[1] if display else text.strip()
    if "@" not in address or any(c.isspace() for c in address) or "." not in address.rsplit("@", 1)[1]:
        raise InputError(f"channel {name!r}: `{key}` = {text!r} is not an email address"
                         + (' (such as "Shop <news@shop.example>")' if display else ""), parameter=key)
    return text.strip()


def _layout(name: str, options: dict) -> str | None:
    if "layout_file" not in options:
        return None
    path = Path(options["layout_file"]).expanduser()
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"channel {name!r}: cannot read the layout file {path} ({exc})",
                         parameter="layout_file") from None
    try:
        check_layout(source, str(path))
    except MessageRefused as exc:
        raise InputError(f"channel {name!r}: {exc}", parameter="layout_file") from None
    return source


def _colour(name: str, value: str) -> str:
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value.strip()):
        raise InputError(f"channel {name!r}: `colour` = {value!r}; give it as #RRGGBB, e.g. #059669",
                         parameter="colour")
    return value.strip()


def _dkim(name: str, options: dict) -> DkimKey | None:
    given = [key for key in ("dkim_domain", "dkim_selector", "dkim_key_file") if key in options]
    if not given:
        return None
    if len(given) < 3:
        missing = sorted({"dkim_domain", "dkim_selector", "dkim_key_file"} - set(given))
        raise InputError(f"channel {name!r}: DKIM signing needs dkim_domain, dkim_selector and dkim_key_file; "
                         f"`{missing[0]}` is missing", parameter=missing[0])
    path = Path(options["dkim_key_file"]).expanduser()
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise InputError(f"channel {name!r}: cannot read the DKIM key file {path} ({exc.strerror})",
                         parameter="dkim_key_file") from None
    if b"PRIVATE KEY" not in key:
        raise InputError(f"channel {name!r}: {path} is not a private key in PEM form (-----BEGIN ... PRIVATE "
                         "KEY-----)", parameter="dkim_key_file")
    return DkimKey(options["dkim_domain"].strip(), options["dkim_selector"].strip(), key)
