"""Stored files of analyses: where they are, how they are served, how they are removed.

Serving is the same for pages and the API: on local disk the file is streamed to its owner
(with HTTP Range, so a video player can seek); on S3 the answer is a redirect to a presigned
URL that expires after AWS_QUERYSTRING_EXPIRE seconds. Files are never public.
"""

from __future__ import annotations

import os
import re
import shutil

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect

from dfdsite.errors import NotFound

from .models import Analysis
from .uploads import CONTAINERS

KINDS = ("video", "poster", "thumbnail", "heatmap")
MAX_RANGE_BYTES = 8 * 1024 * 1024  # one answer holds at most this much; players ask again
RANGE_PATTERN = re.compile(r"bytes=(\d*)-(\d*)")
# 18 digits hold any real file size; a longer number is past the end of every file, and is
# never handed to int(), which refuses strings of more than 4,300 digits.
MAX_POSITION_DIGITS = 18


class RangeNotSatisfiable(Exception):
    pass


def file_name(analysis: Analysis, kind: str, index: int | None = None) -> str:
    """The storage name of one of the analysis's files. Raises NotFound when it has none."""
    if kind == "video":
        name = analysis.video.name
    elif kind == "poster":
        name = analysis.poster.name
    elif kind in ("thumbnail", "heatmap"):
        frame = analysis.frames.filter(index=index).first()
        name = (frame.thumbnail.name if kind == "thumbnail" else frame.heatmap.name) if frame else ""
    else:
        raise ValueError(f"unknown kind of file {kind!r}")
    if not name:
        raise NotFound("No such file.")
    return name


def content_type(analysis: Analysis, kind: str) -> str:
    return CONTAINERS[analysis.container].media_type if kind == "video" else "image/jpeg"


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= MAX_POSITION_DIGITS else 10**MAX_POSITION_DIGITS


def requested_range(header: str, size: int) -> tuple[int, int] | None:
    """The first range of a "bytes=start-end" header, clamped to MAX_RANGE_BYTES; None to send
    the whole file (no header, or one we do not understand, as RFC 9110 allows). Raises
    RangeNotSatisfiable for a range that starts past the end, however long its numbers."""
    first = header.strip().split(",", 1)[0].strip()
    match = RANGE_PATTERN.fullmatch(first)
    if not match or not (match.group(1) or match.group(2)):
        return None
    if match.group(1):
        start = _position(match.group(1))
        end = _position(match.group(2)) if match.group(2) else size - 1
    else:  # "bytes=-N": the last N bytes
        start, end = max(0, size - _position(match.group(2))), size - 1
    if start >= size:
        raise RangeNotSatisfiable(f"bytes */{size}")
    if end < start:
        return None  # "bytes=9-5" is no range at all
    return start, min(end, size - 1, start + MAX_RANGE_BYTES - 1)


def serve(name: str, *, content_type: str, range_header: str = "") -> HttpResponse:
    """Answer a request for a stored file (the caller has checked who may see it)."""
    try:
        default_storage.path(name)
    except NotImplementedError:  # S3: the client fetches it from the bucket, briefly signed
        return HttpResponseRedirect(default_storage.url(name))
    try:
        size = default_storage.size(name)
    except FileNotFoundError:
        raise NotFound("No such file.") from None
    try:
        byte_range = requested_range(range_header, size)
    except RangeNotSatisfiable as unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = str(unsatisfiable)
        return response
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise NotFound("No such file.") from None
    if byte_range:
        start, end = byte_range
        with handle:
            handle.seek(start)
            response = HttpResponse(handle.read(end - start + 1), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(handle, content_type=content_type)  # closes the handle when sent
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def serve_analysis_file(analysis: Analysis, kind: str, index: int | None = None, *,
                        range_header: str = "") -> HttpResponse:
    return serve(file_name(analysis, kind, index), content_type=content_type(analysis, kind),
                 range_header=range_header)


# --- Removing --------------------------------------------------------------------------------


def stored_names(prefix: str) -> list[str]:
    """Every stored file under a prefix (both storages list directories)."""
    try:
        directories, names = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    found = [prefix + name for name in names]
    for directory in directories:
        found.extend(stored_names(f"{prefix}{directory}/"))
    return found


def _remove_empty_folders(prefix: str, keep_root: bool) -> None:
    """Local disk keeps folders that S3 never had: remove the empty ones."""
    try:
        root = default_storage.path(prefix)
    except NotImplementedError:
        return
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        if keep_root and os.path.abspath(folder) == os.path.abspath(root):
            continue
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty, or gone already


def delete_results(analysis: Analysis) -> None:
    """Delete every file of the analysis but its video."""
    for name in stored_names(analysis.storage_prefix):
        if name != analysis.video.name:
            default_storage.delete(name)
    _remove_empty_folders(analysis.storage_prefix, keep_root=True)


def delete_all(prefix: str) -> None:
    """Delete every file under the prefix, and on local disk its folder too."""
    for name in stored_names(prefix):
        default_storage.delete(name)
    try:
        shutil.rmtree(default_storage.path(prefix), ignore_errors=True)
    except NotImplementedError:
        pass
