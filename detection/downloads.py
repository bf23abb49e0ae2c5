"""Resumable HTTP(S) downloads of checkpoints, with progress. Plain Python, no Django.

A download goes to ``<name>.part`` beside its destination; a rerun after an interruption
asks the server for the rest (HTTP Range) and starts over when the server ignores it.
Only a complete file is renamed to its final name.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20
DownloadProgress = Callable[[int, int | None], None]  # (bytes so far, total or None)


class DownloadError(Exception):
    pass


def download(url: str, destination: Path, on_progress: DownloadProgress | None = None, timeout: float = 30) -> Path:
    partial = destination.with_name(destination.name + ".part")
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "dfd-install-model/1"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing left to send: the partial file is complete
            partial.replace(destination)
            return destination
        raise DownloadError(f"the server answered HTTP {error.code} for {url}") from None
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(f"could not reach {url}: {getattr(error, 'reason', error)}") from None

    with response:
        if have and response.status == 206:
            match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                raise DownloadError("the server resumed at the wrong offset; delete the .part file and retry")
            total = int(match.group(2)) if match.group(2) != "*" else None
            mode = "ab"
        else:
            have = 0  # the server sent the whole file again
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            mode = "wb"
        partial.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, mode) as handle:
            try:
                while chunk := response.read(CHUNK):
                    handle.write(chunk)
                    have += len(chunk)
                    if on_progress:
                        on_progress(have, total)
            except (OSError, urllib.error.URLError) as error:
                raise DownloadError(
                    f"the download stopped at {have:,} bytes ({error}); run the same command again to resume"
                ) from None
            handle.flush()
            os.fsync(handle.fileno())
    if total is not None and have < total:
        raise DownloadError(
            f"the download stopped at {have:,} of {total:,} bytes; run the same command again to resume"
        )
    partial.replace(destination)
    return destination
