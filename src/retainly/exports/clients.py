"""The platforms' APIs an export calls: Mailchimp's Marketing API, Unisender's, Meta's Custom Audiences.

    Mailchimp   POST {base}/batches: per member PUT /lists/{list_id}/members/{md5 of the email} with
                ``status_if_new`` (an existing member keeps the status they chose) and POST .../tags;
                removal: DELETE .../members/{hash} (archives) or the export's tags set inactive.
                HTTP Basic auth with the API key; {base} is https://<dc>.api.mailchimp.com/3.0, the key's
                data centre being its suffix (``...-us21``). Batches run at Mailchimp after the answer.
    Unisender   POST {base}/importContacts?format=json, form fields ``api_key``, ``field_names[i]``,
                ``data[row][i]``, 500 rows a call; removal: the same call with ``delete`` = 1. Unisender
                answers refusals with HTTP 200 and ``{"error": ...}``.
    Meta        POST {base}/{audience_id}/users with ``{"payload": {"schema": [...], "data": [[...]]}}``,
                10,000 rows a call; removal: DELETE with the same body. ``Authorization: Bearer <token>``.

Every call has time-outs. A 5xx, a 429, a time-out or a dropped connection is tried again (twice,
after 1 and 2 seconds); any other answer outside 2xx is final at once. A refusal raises
``CallFailed`` with the platform's answer on one line; the caller records the run failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from retainly.errors import InputError
from retainly.exports.formats import chunks
from retainly.exports.platforms import (
    MAILCHIMP_MEMBERS_PER_BATCH,
    META_ROWS_PER_CALL,
    META_SCHEMA,
    UNISENDER_ROWS_PER_CALL,
    mailchimp_batch,
)

MAILCHIMP_API = "https://{dc}.api.mailchimp.com/3.0"
UNISENDER_API = "https://api.unisender.com/en/api"
META_API = "https://graph.facebook.com/v21.0"
ANSWER_LIMIT = 500  # characters of a platform's answer kept in the run's message


class CallFailed(Exception):
    """The platform refused a call, or could not be reached: ``answer`` says how, on one line."""

    def __init__(self, answer: str, calls_done: int):
        super().__init__(answer)
        self.answer = answer
        self.calls_done = calls_done


def one_line(text: str, limit: int = ANSWER_LIMIT) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _Http:
    """One HTTP client for a run's calls: time-outs, retries of transient failures, no redirects."""

    def __init__(self, headers: dict | None = None, auth: httpx.Auth | None = None, timeout: float = 60.0,
                 retries: int = 2, backoff: float = 1.0, sleep: Callable[[float], object] = time.sleep):
        self.retries, self.backoff, self._sleep = retries, backoff, sleep
        self.calls = 0  # calls the platform accepted
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=False, auth=auth,
                                    headers={"User-Agent": "retainly-export", **(headers or {})})

    def send(self, method: str, url: str, **body) -> httpx.Response:
        detail = ""
        for attempt in range(1 + self.retries):
            try:
                response = self._client.request(method, url, **body)
            except httpx.TimeoutException as error:
                detail = f"{method} {url} timed out ({type(error).__name__})"
            except httpx.HTTPError as error:  # refused, reset, DNS, a response broken off
                detail = f"{method} {url}: connection failed ({type(error).__name__}: {error})"
            else:
                code = response.status_code
                if 200 <= code < 300:
                    return response
                detail = f"{method} {url} answered HTTP {code} {response.reason_phrase}: {response.text.strip()}"
                if code < 500 and code != 429:  # the platform said no, and would say it again
                    raise CallFailed(one_line(detail), self.calls)
            if attempt < self.retries:
                self._sleep(self.backoff * 2 ** attempt)
        raise CallFailed(one_line(f"{detail} (tried {1 + self.retries} times)"), self.calls)

    def close(self) -> None:
        self._client.close()


def _json(response: httpx.Response) -> dict:
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


class MailchimpClient:
    def __init__(self, api_key: str, list_id: str, tags=(), removal: str = "archive", base_url: str | None = None,
                 **http):
        if base_url is None:
            centre = api_key.rsplit("-", 1)[1] if "-" in api_key else ""
            if not centre.isalnum():
                raise InputError("the Mailchimp API key does not end in its data centre (such as -us21); copy the "
                                 "whole key, or give the export the option base_url", parameter="options")
            base_url = MAILCHIMP_API.format(dc=centre)
        self.base, self.list_id, self.tags, self.removal = base_url, list_id, list(tags), removal
        self._http = _Http(auth=httpx.BasicAuth("retainly", api_key), **http)
        self.batches: list[str] = []

    def add(self, members: list[dict]) -> None:
        for batch in chunks(members, MAILCHIMP_MEMBERS_PER_BATCH):
            self._batch(mailchimp_batch(self.list_id, batch))

    def remove(self, identifiers: list[dict]) -> None:
        operations = []
        for found in identifiers:
            path = f"/lists/{self.list_id}/members/{found['subscriber_hash']}"
            if self.removal == "untag" and self.tags:
                tags = [{"name": tag, "status": "inactive"} for tag in self.tags]
                operations.append({"method": "POST", "path": f"{path}/tags", "body": json.dumps({"tags": tags})})
            else:
                operations.append({"method": "DELETE", "path": path, "operation_id": found["subscriber_hash"]})
        for batch in chunks(operations, MAILCHIMP_MEMBERS_PER_BATCH):
            self._batch({"operations": batch})

    def _batch(self, body: dict) -> None:
        answer = _json(self._http.send("POST", f"{self.base}/batches", json=body))
        self._http.calls += 1
        self.batches.append(str(answer.get("id") or "?"))

    def detail(self) -> str:
        return f"Mailchimp batches {', '.join(self.batches)} (their members' results are at Mailchimp)" \
            if self.batches else ""

    def close(self) -> None:
        self._http.close()


class UnisenderClient:
    def __init__(self, api_key: str, base_url: str | None = None, **http):
        self.base, self._key = base_url or UNISENDER_API, api_key
        self._http = _Http(**http)
        self.counts = {"inserted": 0, "updated": 0, "deleted": 0, "invalid": 0}

    def add(self, rows: list[dict]) -> None:
        if rows:
            self._import(list(rows[0]), [list(row.values()) for row in rows])

    def remove(self, rows: list[dict]) -> None:
        if rows:
            self._import(list(rows[0]), [list(row.values()) for row in rows])

    def _import(self, field_names: list[str], data: list[list]) -> None:
        for part in chunks(data, UNISENDER_ROWS_PER_CALL):
            form = {"api_key": self._key, **{f"field_names[{i}]": name for i, name in enumerate(field_names)}}
            form.update({f"data[{r}][{c}]": "" if value is None else str(value)
                         for r, row in enumerate(part) for c, value in enumerate(row)})
            response = self._http.send("POST", f"{self.base}/importContacts", params={"format": "json"}, data=form)
            answer = _json(response)
            if "error" in answer or "result" not in answer:  # Unisender refuses with HTTP 200
                raise CallFailed(one_line(f"POST {self.base}/importContacts answered {response.text.strip()}"),
                                 self._http.calls)
            self._http.calls += 1
            result = answer["result"] if isinstance(answer["result"], dict) else {}
            for key in self.counts:
                self.counts[key] += int(result.get(key) or 0)

    def detail(self) -> str:
        return "Unisender: " + ", ".join(f"{n} {key}" for key, n in self.counts.items()) if self._http.calls else ""

    def close(self) -> None:
        self._http.close()


class MetaClient:
    def __init__(self, access_token: str, audience_id: str, base_url: str | None = None, **http):
        self.url = f"{base_url or META_API}/{audience_id}/users"
        self._http = _Http(headers={"Authorization": f"Bearer {access_token}"}, **http)
        self.counts = {"num_received": 0, "num_invalid_entries": 0}

    def add(self, rows: list[dict]) -> None:
        self._send("POST", rows)

    def remove(self, rows: list[dict]) -> None:
        self._send("DELETE", rows)

    def _send(self, method: str, rows: list[dict]) -> None:
        data = [[row.get(key) or "" for key in META_SCHEMA] for row in rows]
        for part in chunks(data, META_ROWS_PER_CALL):
            body = {"payload": {"schema": list(META_SCHEMA), "data": part}}
            answer = _json(self._http.send(method, self.url, json=body))
            self._http.calls += 1
            for key in self.counts:
                self.counts[key] += int(answer.get(key) or 0)

    def detail(self) -> str:
        return (f"Meta: {self.counts['num_received']} received, {self.counts['num_invalid_entries']} invalid"
                if self._http.calls else "")

    def close(self) -> None:
        self._http.close()


def client_for(target: str, options: dict, secret: str, **http):
    """The client of an API target, with its key ``secret`` and the export's options."""
    if target == "mailchimp_api":
        return MailchimpClient(secret, options["list_id"], options.get("tags", ()), options.get("removal", "archive"),
                               options.get("base_url"), **http)
    if target == "unisender_api":
        return UnisenderClient(secret, options.get("base_url"), **http)
    return MetaClient(secret, options["audience_id"], options.get("base_url"), **http)
