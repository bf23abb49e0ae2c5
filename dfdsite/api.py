"""What every REST API view shares: its base class, the error handler and the error schema."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError, NotFound
from .http_errors import domain_error_body, error_body, unreadable_body_error

logger = logging.getLogger(__name__)


class ApiView(APIView):
    """Base of every API view. DRF authenticates requests itself (token or session), so the
    site's LoginRequiredMiddleware must not send API clients to the login page."""

    @classmethod
    def as_view(cls, **initkwargs):
        return login_not_required(super().as_view(**initkwargs))


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


def exception_handler(exc, context):
    """Domain errors through the one map; DRF's own errors in the same shape; anything else a
    logged 500. Other people's objects and missing ones read the same."""
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, exceptions.ParseError) and isinstance(exc.__context__, MultiPartParserError):
        exc = unreadable_body_error(exc.__context__)

    if isinstance(exc, DomainError):
        set_rollback()
        status, body = domain_error_body(exc)
        return Response(body, status=status)

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
    409: "The analysis is running, or is being changed by another request: try again once it settled.",
    413: "The file is larger than the upload limit.",
    415: "Unsupported media type.",
    429: "Too many requests: try again after `Retry-After` seconds; or a per-person limit was reached "
         "(analyses waiting or running at once, uploads a day).",
    503: "File storage or the detector is unavailable right now: nothing was changed; try again.",
}


def length_required_on_bodies(result, generator, request, public):
    """drf-spectacular hook: BodyLimitMiddleware answers a chunked body that has no length with
    411 on every operation that takes a body; document it there, shaped like the other errors."""
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if method not in ("post", "put", "patch"):
                continue
            responses = operation.setdefault("responses", {})
            error = next((r for code, r in responses.items() if code.startswith("4") and "content" in r), None)
            if error is not None:
                responses.setdefault("411", {"description": "A chunked body without a Content-Length header.",
                                             "content": error["content"]})
    return result


def error_responses(*codes: int) -> dict:
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}
