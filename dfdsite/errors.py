"""Domain errors: what services and selectors raise when a request cannot be done.

They say what went wrong, for people, and to which field it belongs; they know nothing of
HTTP. `dfdsite.http_errors` maps them to status codes once, for the pages and the API.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"
    default_message = "The request is not valid."

    def __init__(self, message: str | None = None, *, code: str | None = None, field: str | None = None):
        self.message = message or self.default_message
        self.code = code or self.code
        self.field = field
        super().__init__(self.message)


class Invalid(DomainError):
    """Input that can never succeed as sent (a field out of range, an unknown choice)."""


class NotAVideo(Invalid):
    code = "not_video"
    default_message = "This is not a video file we can read."


class UploadTooLarge(DomainError):
    code = "too_large"
    default_message = "The file is larger than the upload limit."


class LimitReached(DomainError):
    """A per-person limit of the service (analyses running at once, uploads a day)."""

    code = "limit_reached"
    default_message = "You reached a limit. Try again later."


class NotFound(DomainError):
    """Missing, or someone else's: the two read the same."""

    code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    """The thing exists but its state does not allow this now (it is running, it is being deleted)."""

    code = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class Unavailable(DomainError):
    """A part the request needs is down; nothing was changed, and the same request may work later."""

    code = "unavailable"
    default_message = "A part of the service is unavailable right now. Try again in a moment."


class StorageUnavailable(Unavailable):
    code = "storage_unavailable"
    default_message = "File storage is unavailable right now, so nothing was changed. Try again in a moment."


class DetectorUnavailable(Unavailable):
    code = "detector_unavailable"
    default_message = ("The detector is unavailable right now, so nothing was queued. "
                       "The administrators have been told; try again later.")
