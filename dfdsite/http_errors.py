"""Domain errors as HTTP, in one place, with one JSON shape for the API and the pages'
background requests:

    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"file": ["..."]}}}

`fields` maps field names to their messages (empty when the error is not about a field).
"""

from __future__ import annotations

from django.http import JsonResponse

from . import errors

# Most specific first: the first class an error is an instance of decides.
STATUS_FOR = (
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.UploadTooLarge, 413),
    (errors.LimitReached, 429),
    (errors.Unavailable, 503),
    (errors.DomainError, 400),
)


def status_for(error: errors.DomainError) -> int:
    return next(status for kind, status in STATUS_FOR if isinstance(error, kind))


def error_body(status: int, code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}


def domain_error_body(error: errors.DomainError) -> tuple[int, dict]:
    status = status_for(error)
    fields = {error.field: [error.message]} if error.field else {}
    return status, error_body(status, error.code, error.message, fields)


def json_error(error: errors.DomainError) -> JsonResponse:
    status, body = domain_error_body(error)
    return JsonResponse(body, status=status)


FILE_NAME_TOO_LONG = ("The file name is too long to be read. Rename the file (up to 255 characters is safe) "
                      "and upload it again.")


def unreadable_body_error(error: Exception) -> errors.Invalid:
    """A multipart body Django cannot parse, in words. Django refuses a part whose headers pass
    1024 bytes, and in our forms only a file's name can make them that long."""
    if "header size" in str(error):
        return errors.Invalid(FILE_NAME_TOO_LONG, code="file_name_too_long", field="file")
    return errors.Invalid("The request body could not be read as a form.", code="parse_error")


def json_form_errors(form, status: int = 400) -> JsonResponse:
    """A form's errors in the same shape (for a page's background request)."""
    fields = {field: [str(message) for message in messages] for field, messages in form.errors.items()}
    message = next(iter(fields.values()))[0] if fields else "The request is not valid."
    return JsonResponse(error_body(status, "invalid", message, fields), status=status)
