"""The site's own error views (Django's handler400)."""

from django.http.multipartparser import MultiPartParserError
from django.views import defaults

from .http_errors import status_for, unreadable_body_error
from .middleware import error_response


def bad_request(request, exception=None):
    """A request Django refused before any view saw it. An unreadable multipart body (the CSRF
    check reads the form first) gets a message that says why, in the one JSON shape for the
    upload page's background request, instead of Django's bare "Bad Request (400)"."""
    if isinstance(exception, MultiPartParserError):
        error = unreadable_body_error(exception)
        fields = {error.field: [error.message]} if error.field else {}
        return error_response(request, status_for(error), error.code, error.message, fields)
    return defaults.bad_request(request, exception)  # a bad Host header, say: nothing of ours to render
