"""One JSON error shape for the whole API:

    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"file": ["..."]}}}

`fields` maps field names to their messages (empty when the error is not about fields).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

NOT_FOUND_MESSAGE = "Not found."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "too_large"

    def __init__(self, detail=None, code=None, field: str | None = None):
        super().__init__(detail, code)
        self.field = field


class LimitReached(exceptions.APIException):
    """A per-person limit of the service (analyses running at once, uploads a day)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "You reached a limit. Try again later."
    default_code = "limit_reached"


class StorageUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "File storage is unavailable right now. Try again in a moment."
    default_code = "storage_unavailable"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def from_django_validation_error(error: DjangoValidationError, field: str) -> exceptions.APIException:
    """A service's ValidationError as an API error: on `field` (400), or with the status the
    service gives its code (413 when the file is too large, 429 for per-person limits)."""
    from detection.services import ERROR_STATUS

    messages, code = error.messages, getattr(error, "code", None)
    status_code = ERROR_STATUS.get(code, 400)
    if status_code == 413:
        return PayloadTooLarge(messages[0], code=code, field=field)
    if status_code == 429:
        return LimitReached(messages[0], code=code)
    if status_code == 503:
        return StorageUnavailable(messages[0], code=code)
    return exceptions.ValidationError({field: messages})


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """{"a": ["m"], "b": {"c": ["n"]}} -> {"a": ["m"], "b.c": ["n"]}."""
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            fields.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return fields
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        fields = {}
        for position, item in enumerate(detail):
            fields.update(_flatten(item, f"{prefix}.{position}" if prefix else str(position)))
        return fields
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]}


def error_body(status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"status": status_code, "code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc, context):
    """DRF's handler, then our shape. Other people's objects and missing ones read the same."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND_MESSAGE)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.messages)

    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        logger.error("unhandled error in %s", type(view).__name__ if view else "the API", exc_info=exc)
        set_rollback()
        return Response(
            error_body(500, "server_error", "The server failed to handle this request. The error was logged."),
            status=500,
        )

    response = drf_exception_handler(exc, context)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.values()))[0] if fields else "The request is not valid."
        response.data = error_body(response.status_code, "invalid", first, fields)
        return response
    detail = exc.detail
    if isinstance(detail, (list, dict)):  # an APIException raised with a structure: keep it as fields
        fields = _flatten(detail)
        message = next(iter(fields.values()))[0] if fields else str(exc.default_detail)
        code = exc.default_code
    else:
        message, code, fields = str(detail), getattr(detail, "code", None) or exc.default_code, {}
    if isinstance(exc, PayloadTooLarge) and exc.field:
        fields = {exc.field: [message]}
    response.data = error_body(response.status_code, code, message, fields)
    return response


# --- Schema --------------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status code.")
    code = serializers.CharField(help_text="Short machine-readable code, e.g. `invalid`, `not_found`, `throttled`.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field (`non_field_errors` for the request as a whole); empty when none.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "The request is not valid: `fields` says why.",
    401: "No credentials, an unknown, revoked or expired token, or a wrong username or password.",
    403: "Session requests without a CSRF token.",
    404: "Not found, or not yours.",
    405: "Method not allowed.",
    409: "The analysis is still running.",
    413: "The file is larger than the upload limit.",
    415: "Unsupported media type.",
    429: "Too many requests: try again after `Retry-After` seconds; or a per-person limit was reached "
         "(analyses waiting or running at once, uploads a day).",
    503: "File storage is unavailable right now: nothing was changed; try again.",
}


def error_responses(*codes: int) -> dict:
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}
