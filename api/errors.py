"""The API's answer to a request it refuses as invalid: FastAPI's 422, with every refused input made JSON-safe.

FastAPI's own handler echoes each error's ``input``; a number past float64 (``1e309`` reads as inf) or a lone
surrogate in a string cannot be written as JSON, so the refusal itself failed with a 500. Here such values are
written as text (``"inf"``, the string with the surrogate escaped).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def json_safe(value: Any) -> Any:
    """``value`` (plain JSON types) with non-finite floats and unencodable strings written as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


async def unprocessable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": json_safe(jsonable_encoder(exc.errors()))})


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, unprocessable)
