"""Errors as JSON: ``{"error": "what is wrong and what to do", "field": "the field at fault" or null}``.

The core's errors answer with their own ``http_status`` (422 bad input, 404 not found, 409
conflict, 503 busy, ...) and name their ``parameter`` as ``field``: the API's query and body
fields are spelled as the core spells its parameters (``as_of``, ``by``, ``rule``), so the
message stays as the core wrote it. FastAPI's own checks of the request (a date that is not a
date, a limit out of range) answer 422 with the field's path; unknown routes, wrong methods and
refused keys keep their status in the same shape. Anything unexpected is a 500 with one line
naming the kind of error: the traceback goes to the server's log, never to the caller.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from retainly.errors import RetainlyError

# Where FastAPI found a field: not part of the field's name.
_PLACES = ("query", "path", "body", "header", "cookie")
_LONGEST_VALUE_SHOWN = 60


def error_body(message: str, field: str | None = None) -> dict:
    return {"error": message, "field": field}


def _retainly_error(_request: Request, exc: RetainlyError) -> JSONResponse:
    return JSONResponse(error_body(str(exc), exc.parameter), status_code=exc.http_status)


def _field_of(location: tuple) -> str:
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in _PLACES:
        parts = parts[1:]
    return ".".join(parts)


def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    first = problems[0] if problems else {"loc": ("body",), "msg": "the request is not valid", "type": ""}
    field = "body" if first.get("type") == "json_invalid" else _field_of(tuple(first.get("loc", ())))
    if first.get("type") == "missing":
        message = f"`{field}` is required"
    else:
        value = first.get("input")
        shown = f" {value!r}" if isinstance(value, (str, int, float)) and len(repr(value)) <= _LONGEST_VALUE_SHOWN \
            else ""
        message = f"`{field}`{shown}: {first.get('msg', 'not valid')}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return JSONResponse(error_body(message, field), status_code=422)


def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # The server re-raises it after this answer is sent, and logs it with its traceback.
    return JSONResponse(error_body(f"unexpected {type(exc).__name__} in the server; its log has the details, "
                                   "please report it"), status_code=500)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` in the JSON shape above."""
    app.add_exception_handler(RetainlyError, _retainly_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
