"""Fetching a video from a link people submit: a direct link to a file, or a page that yt-dlp
understands (it is used to read the page only, never to download).

Every request, yt-dlp's included, goes through dfdsite.outbound: public addresses only, checked
after DNS and on every redirect. The download is streamed to a file and stopped at the upload
size limit and at a time limit; what it fetched is then checked like an upload
(services.upload_check). Failures raise FetchFailed (or AddressRefused, UploadTooLarge) with a
message for people. No Django models here.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import urllib3
from django.conf import settings

from dfdsite.errors import Invalid, UploadTooLarge
from dfdsite.outbound import AddressRefused, public_request, resolve_public

from .uploads import CONTAINERS, display_name

logger = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 20.0  # silence from the site this long fails the fetch
PAGE_LIMIT_BYTES = 5 * 1024 * 1024  # a web page yt-dlp reads (never the video itself)
MAX_URL_LENGTH = 2048  # Analysis.source_url
CHUNK_BYTES = 1 << 20
PAGE_TYPES = ("text/html", "application/xhtml+xml")
ACCEPTED_EXTENSIONS = {container.extension.lstrip(".") for container in CONTAINERS.values()}


class FetchFailed(Invalid):
    code = "fetch_failed"
    default_message = "The video could not be fetched from this link."


@dataclass(frozen=True)
class Fetched:
    path: str
    size_bytes: int
    sha256: str
    name: str  # a file name for people: the page's title or the link's last part


Progress = Callable[[str, float], None]


def link_check(url: str) -> str:
    """The link, checked when it is submitted: http(s), not too long, and its host public now
    (it is checked again, with every redirect, when the worker fetches it)."""
    url = (url or "").strip()
    if len(url) > MAX_URL_LENGTH:
        raise Invalid(f"The link is longer than {MAX_URL_LENGTH} characters.", code="url_too_long", field="url")
    try:
        resolve_public(url)
    except AddressRefused as error:
        raise AddressRefused(error.message, field="url") from None
    return url


def link_name(url: str) -> str:
    """A name for people until the fetch finds a better one: the link's last part, or its host."""
    parts = urlsplit(url)
    last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return display_name(last or parts.hostname or "video")


def too_large() -> UploadTooLarge:
    return UploadTooLarge(f"The video at this link is larger than the limit of "
                          f"{settings.DFD_MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")


def fetch_video(url: str, directory: str, progress: Progress) -> Fetched:
    """Fetch the video behind a link into ``directory``. A page is read with yt-dlp, which
    names the media file to download; anything else is downloaded as it is."""
    deadline = time.monotonic() + settings.DFD_FETCH_TIMEOUT_SECONDS
    progress("download", 0.0)
    with _request(url) as response:
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type not in PAGE_TYPES:
            return _save(response, directory, link_name(url), progress, deadline)
    info = _page_info(url)
    media = _choose_format(info)
    name = display_name(f"{info.get('title') or link_name(url)}.{media.get('ext') or 'mp4'}")
    with _request(media["url"], headers=media.get("http_headers") or {}) as response:
        return _save(response, directory, name, progress, deadline)


class _request:
    """public_request with the failures in words (a context manager, as public_request is)."""

    def __init__(self, url: str, headers: dict | None = None):
        self.context = public_request(url, headers=headers, timeout=READ_TIMEOUT_SECONDS)

    def __enter__(self):
        try:
            response = self.context.__enter__()
        except AddressRefused:
            raise
        except urllib3.exceptions.TimeoutError:
            raise FetchFailed(f"The site did not answer within {READ_TIMEOUT_SECONDS:.0f} s.") from None
        except urllib3.exceptions.HTTPError as error:
            logger.info("fetch failed: %s", error)
            raise FetchFailed("The site could not be reached.") from None
        if not 200 <= response.status < 300:
            self.context.__exit__(None, None, None)
            raise FetchFailed(f"The site answered HTTP {response.status} instead of the video.")
        return response

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)


def _save(response, directory: str, name: str, progress: Progress, deadline: float) -> Fetched:
    limit = settings.DFD_MAX_UPLOAD_BYTES
    declared = response.headers.get("Content-Length", "")
    expected = int(declared) if declared.isdigit() else 0
    if expected > limit:
        raise too_large()  # refused from its declared length, before a byte is read
    path = os.path.join(directory, "fetched" + os.path.splitext(name)[1][:8])
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "wb") as target:
            for chunk in response.stream(CHUNK_BYTES, decode_content=True):
                size += len(chunk)
                if size > limit:
                    raise too_large()
                if time.monotonic() > deadline:
                    raise FetchFailed(f"Fetching the video took longer than the limit of "
                                      f"{settings.DFD_FETCH_TIMEOUT_SECONDS} s.")
                digest.update(chunk)
                target.write(chunk)
                progress("download", size / expected if expected else 0.0)
    except urllib3.exceptions.TimeoutError:
        raise FetchFailed(f"The site stopped sending the video for {READ_TIMEOUT_SECONDS:.0f} s.") from None
    except urllib3.exceptions.HTTPError as error:
        logger.info("fetch failed mid-way: %s", error)
        raise FetchFailed("The connection broke while the video was fetched.") from None
    return Fetched(path=path, size_bytes=size, sha256=digest.hexdigest(), name=name)


# --- Pages: yt-dlp reads them, through the same guard -------------------------------------------


def _page_info(url: str) -> dict:
    import yt_dlp
    from yt_dlp.utils import DownloadError

    options = {
        "quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True, "skip_download": True,
        "cachedir": False, "socket_timeout": READ_TIMEOUT_SECONDS, "logger": _SilentLogger(),
        "format": "best", "ignoreconfig": True,
    }
    with yt_dlp.YoutubeDL(options) as ydl:
        # Every request yt-dlp makes goes through dfdsite.outbound, and only there.
        ydl._request_director = ydl.build_request_director([_outbound_handler_class()])
        handler = ydl._request_director.handlers["Outbound"]
        try:
            info = ydl.extract_info(url, download=False)
        except DownloadError as error:
            if handler.refusal is not None:
                raise handler.refusal from None
            logger.info("yt-dlp could not read %s: %s", url, error)
            raise FetchFailed("No video was found at this link: the page is not one we can read a video "
                              "from.") from None
    if info is None or info.get("_type") == "playlist" or info.get("entries"):
        raise FetchFailed("This link is a playlist or a channel: link to one video.")
    if (info.get("duration") or 0) > settings.DFD_MAX_DURATION_SECONDS:
        raise Invalid(f"The video lasts {info['duration']:.0f} s; the limit is {settings.DFD_MAX_DURATION_SECONDS} s.",
                      code="too_long")
    return info


def _choose_format(info: dict) -> dict:
    """The format to download: plain HTTP(S), with a picture, within the size and pixel limits,
    preferring containers we accept and the sharpest picture up to 1080 lines (faces gain
    nothing from more, and the download is shorter)."""
    formats = info.get("formats") or [info]
    usable = []
    for media in formats:
        size = media.get("filesize") or media.get("filesize_approx") or 0
        pixels = (media.get("width") or 0) * (media.get("height") or 0)
        if (media.get("url") and media.get("protocol", "https") in ("http", "https")
                and media.get("vcodec") != "none" and size <= settings.DFD_MAX_UPLOAD_BYTES
                and pixels <= settings.DFD_MAX_PIXELS):
            usable.append(media)
    if not usable:
        raise FetchFailed("The video at this link is offered in no format we can fetch within the limits "
                          "(a single file over HTTP, within the size and picture limits).")

    def preference(media: dict):
        height = media.get("height") or 0
        return (media.get("ext") in ACCEPTED_EXTENSIONS, height <= 1080, height if height <= 1080 else -height)

    return max(usable, key=preference)


class _SilentLogger:
    def debug(self, message):
        pass

    def info(self, message):
        pass

    def warning(self, message):
        logger.debug("yt-dlp: %s", message)

    def error(self, message):
        logger.info("yt-dlp: %s", message)


_HANDLER_CLASS = None


def _outbound_handler_class():
    """A yt-dlp request handler that sends every request through dfdsite.outbound (defined
    lazily: yt-dlp is imported only by the worker that fetches a page)."""
    global _HANDLER_CLASS
    if _HANDLER_CLASS is not None:
        return _HANDLER_CLASS
    from yt_dlp.networking.common import RequestHandler, Response
    from yt_dlp.networking.exceptions import HTTPError, RequestError, TransportError

    class OutboundRH(RequestHandler):
        _SUPPORTED_URL_SCHEMES = ("http", "https")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.refusal: AddressRefused | None = None

        def _validate(self, request):
            self._check_url_scheme(request)  # no proxies, no extensions: the guard is the only way out

        def _send(self, request):
            headers = {**dict(self.headers), **dict(request.headers)}
            data = request.data if isinstance(request.data, bytes) or request.data is None else b"".join(request.data)
            try:
                with public_request(request.url, method=request.method, body=data, headers=headers,
                                    timeout=READ_TIMEOUT_SECONDS) as response:
                    body = response.read(PAGE_LIMIT_BYTES + 1, decode_content=True)
                    status, response_headers = response.status, dict(response.headers)
            except AddressRefused as error:
                self.refusal = error
                raise RequestError(error.message) from None
            except urllib3.exceptions.HTTPError as error:
                raise TransportError(cause=error) from None
            if len(body) > PAGE_LIMIT_BYTES:
                raise RequestError("The page is too large to read.")
            response_headers.pop("Content-Encoding", None)  # decoded above
            answer = Response(io.BytesIO(body), url=request.url, headers=response_headers, status=status)
            if not 200 <= status < 300:
                raise HTTPError(answer)
            return answer

    _HANDLER_CLASS = OutboundRH
    return OutboundRH
