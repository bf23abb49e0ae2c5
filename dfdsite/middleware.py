import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from .errors import DomainError, NotFound, UploadTooLarge
from .http_errors import error_body, json_error, status_for


def _storage_origin() -> str:
    """Where presigned S3 URLs point, so pages may show images and video from there."""
    if settings.STORAGE_BACKEND != "s3":
        return ""
    options = settings.STORAGES["default"]["OPTIONS"]
    if options.get("endpoint_url"):
        parts = urlsplit(options["endpoint_url"])
        return f"{parts.scheme}://{parts.netloc}"
    return "https://*.amazonaws.com"


class ContentSecurityPolicyMiddleware:
    """A strict Content-Security-Policy on every page: our own scripts only, no inline
    script, nothing framed, forms post only to us. Inline style attributes stay allowed
    (progress bars and markers are positioned with them)."""

    def __init__(self, get_response):
        self.get_response = get_response
        media = " ".join(filter(None, ["'self'", "data:", "blob:", _storage_origin()]))
        self.policy = "; ".join([
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {media}",
            f"media-src {media}",
            "connect-src 'self'",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ])

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def wants_json(request) -> bool:
    """A page's own background request (fetch or XMLHttpRequest from our scripts)."""
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def error_response(request, status: int, code: str, message: str, fields: dict | None = None):
    """An error answered outside a view: the one JSON shape for the API and the pages'
    background requests, the error page otherwise."""
    if wants_json(request) or request.path_info.startswith("/api/"):
        return JsonResponse(error_body(status, code, message, fields), status=status)
    return render(request, "error.html", {"message": message}, status=status)


class ClientAddressMiddleware:
    """REMOTE_ADDR becomes the client's address as the outermost trusted proxy saw it
    (DFD_TRUSTED_PROXIES hops counted from the right of X-Forwarded-For); with no trusted
    proxy the header is ignored. DRF's throttles read the same REMOTE_ADDR (NUM_PROXIES 0)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        hops = settings.DFD_TRUSTED_PROXIES
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if hops and forwarded:
            # Entries left of the trusted ones were written by the client: worth nothing.
            candidate = forwarded[-min(hops, len(forwarded))]
            try:
                request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(candidate))
            except ValueError:
                pass  # a proxy that writes no address: keep the connection's
        return self.get_response(request)


def large_body(limit: Callable[[], int], error: Callable[[], DomainError]):
    """Let a view take request bodies up to limit() bytes (an upload); error() is the
    refusal of a larger one. Other views take DATA_UPLOAD_MAX_MEMORY_SIZE at most."""

    def mark(view):
        view.body_limit = (limit, error)
        return view

    return mark


class BodyLimitMiddleware:
    """Refuse a request body that is too large from its declared length, before anything
    (the CSRF check, a form, DRF's parsers) reads a byte of it; and a body without a length
    (chunked), which Django would not read anyway. A body longer than it declared is cut at
    the declared length by Django itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
            return error_response(request, 411, "length_required",
                                  "Send the request with a Content-Length header: chunked bodies are not accepted.")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None  # Django reads a malformed length as 0
        limit, error = getattr(view_func, "body_limit", (None, None))
        if limit is not None:
            if length > limit():
                refusal = error()
                fields = {refusal.field: [refusal.message]} if refusal.field else {}
                return error_response(request, status_for(refusal), refusal.code, refusal.message, fields)
        elif length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            refusal = UploadTooLarge(f"The request is larger than the limit of "
                                     f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024} KB.")
            return error_response(request, 413, refusal.code, refusal.message)
        return None


class DomainErrorMiddleware:
    """Domain errors that a page view let through: JSON in the one error shape for the pages'
    background requests, the 404 page for NotFound, a short error page otherwise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError):
            return None
        if wants_json(request):
            return json_error(exception)
        if isinstance(exception, NotFound):
            # Our own page even in debug mode (`make run`): a deleted analysis is no bug to debug.
            return render(request, "404.html", {"exception": exception.message}, status=404)
        return render(request, "error.html", {"message": exception.message}, status=status_for(exception))
