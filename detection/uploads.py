"""What an upload claims to be, read from its bytes before any decoder sees it. No Django.

``sniff_container`` names the container (or still-image format) from its magic bytes. ``declared_frame_size`` reads
the picture size the container declares (MP4/MOV track and sample entries, Matroska/WebM
video tracks, AVI headers), so a tiny file that claims huge frames is refused before it is
decoded. Both read a bounded number of bytes and never raise on malformed input.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Container:
    label: str
    extension: str
    media_type: str
    kind: str = "video"  # Analysis.MediaKind: "video" or "image"


# The containers and still-image formats we accept: the one list every page, form, message and
# response reads.
CONTAINERS = {
    "mp4": Container("MP4", ".mp4", "video/mp4"),
    "mov": Container("MOV", ".mov", "video/quicktime"),
    "webm": Container("WebM", ".webm", "video/webm"),
    "mkv": Container("MKV", ".mkv", "video/x-matroska"),
    "avi": Container("AVI", ".avi", "video/x-msvideo"),
    "jpeg": Container("JPEG", ".jpg", "image/jpeg", "image"),
    "png": Container("PNG", ".png", "image/png", "image"),
    "webp": Container("WebP", ".webp", "image/webp", "image"),
}


def _names(kind: str) -> str:
    labels = [c.label for c in CONTAINERS.values() if c.kind == kind]
    return ", ".join(labels[:-1]) + f" or {labels[-1]}"


VIDEO_NAMES, IMAGE_NAMES = _names("video"), _names("image")
ACCEPTED_NAMES = f"a video ({VIDEO_NAMES}) or a photo ({IMAGE_NAMES})"
ACCEPT_ATTRIBUTE = ",".join([
    "video/*", *(c.extension for c in CONTAINERS.values() if c.kind == "video"),
    *(value for c in CONTAINERS.values() if c.kind == "image" for value in (c.media_type, c.extension)), ".jpeg",
])

MAX_BOXES = 10_000  # bounds the walk on a hostile file of many tiny boxes
MKV_SCAN_BYTES = 4 << 20  # the Tracks element comes before the first Cluster, near the start

MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}
MKV_SEGMENT, MKV_TRACKS, MKV_TRACK_ENTRY, MKV_VIDEO = 0x18538067, 0x1654AE6B, 0xAE, 0xE0
MKV_PIXEL_WIDTH, MKV_PIXEL_HEIGHT, MKV_CLUSTER = 0xB0, 0xBA, 0x1F43B675


def sniff_container(head: bytes) -> str | None:
    """Name the container or image format from a file's first bytes, or None when it is not one we
    accept (``CONTAINERS[name].kind`` says which of the two it is)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mov" if head[8:10] == b"qt" else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
)


def sniff_image(head: bytes) -> str | None:
    """Name a still image from its first bytes ("a PNG image"), or None. OpenCV opens these as
    one-frame videos, so a decoder alone would not refuse them."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    return next((name for magic, name in IMAGE_SIGNATURES if head.startswith(magic)), None)


def declared_frame_size(path: str | Path, container: str) -> tuple[int, int] | None:
    """The largest (width, height) any video track declares, or None when none is found."""
    try:
        with open(path, "rb") as handle:
            if container in ("mp4", "mov"):
                sizes = _mp4_sizes(handle)
            elif container in ("mkv", "webm"):
                sizes = _mkv_sizes(handle.read(MKV_SCAN_BYTES))
            elif container == "avi":
                sizes = _avi_sizes(handle.read(1 << 16))
            else:
                return None
    except (OSError, struct.error, ValueError):
        return None
    sizes = [(w, h) for w, h in sizes if w > 0 and h > 0]
    return max(sizes, key=lambda size: size[0] * size[1]) if sizes else None


def _mp4_sizes(handle) -> list[tuple[int, int]]:
    handle.seek(0, 2)
    end = handle.tell()
    sizes: list[tuple[int, int]] = []
    stack = [(0, end)]
    boxes = 0
    while stack and boxes < MAX_BOXES:
        position, limit = stack.pop()
        while position + 8 <= limit and boxes < MAX_BOXES:
            boxes += 1
            handle.seek(position)
            size, kind = struct.unpack(">I4s", handle.read(8))
            header = 8
            if size == 1:
                size = struct.unpack(">Q", handle.read(8))[0]
                header = 16
            elif size == 0:
                size = limit - position
            if size < header or position + size > limit:
                break
            body = position + header
            if kind in MP4_CONTAINERS:
                stack.append((body, position + size))
            elif kind == b"tkhd":
                handle.seek(body)
                data = handle.read(min(size - header, 96))
                if len(data) >= 84:  # width and height: the last 8 bytes, 16.16 fixed point
                    width, height = struct.unpack(">II", data[-8:])
                    sizes.append((width >> 16, height >> 16))
            elif kind == b"stsd":
                handle.seek(body + 8)  # version, flags, entry count
                entry = handle.read(8 + 32)
                if len(entry) == 40:  # a visual sample entry: width and height after 24 bytes
                    width, height = struct.unpack(">HH", entry[32:36])
                    sizes.append((width, height))
            position += size
    return sizes


def _ebml_number(data: bytes, offset: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length number at ``offset``: (value, length). -1 for 'unknown size'."""
    if offset >= len(data):
        raise ValueError("EBML number past the end")
    first = data[offset]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or offset + length > len(data):
        raise ValueError("bad EBML number")
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[offset + 1: offset + length]:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = -1
    return value, length


def _mkv_sizes(data: bytes) -> list[tuple[int, int]]:
    sizes: list[tuple[int, int]] = []
    width = height = 0
    position, elements = 0, 0
    while position < len(data) and elements < MAX_BOXES:
        elements += 1
        element, id_length = _ebml_number(data, position, keep_marker=True)
        size, size_length = _ebml_number(data, position + id_length, keep_marker=False)
        body = position + id_length + size_length
        if element == MKV_CLUSTER:
            break
        if element in (MKV_SEGMENT, MKV_TRACKS, MKV_TRACK_ENTRY, MKV_VIDEO):
            position = body  # descend into masters that can hold the picture size
            continue
        if size < 0:
            break
        if element in (MKV_PIXEL_WIDTH, MKV_PIXEL_HEIGHT) and size <= 8:
            value = int.from_bytes(data[body: body + size], "big")
            if element == MKV_PIXEL_WIDTH:
                width = value
            else:
                height = value
            if width and height:
                sizes.append((width, height))
                width = height = 0
        position = body + size
    return sizes


def _avi_sizes(data: bytes) -> list[tuple[int, int]]:
    sizes = []
    at = data.find(b"avih")
    if at >= 0 and len(data) >= at + 8 + 40:  # MainAVIHeader: dwWidth and dwHeight at bytes 32-39
        sizes.append(struct.unpack("<II", data[at + 8 + 32: at + 8 + 40]))
    at = data.find(b"strf")
    if at >= 0 and len(data) >= at + 8 + 12:  # BITMAPINFOHEADER: biWidth, biHeight (negative: top-down)
        width, height = struct.unpack("<ii", data[at + 8 + 4: at + 8 + 12])
        sizes.append((abs(width), abs(height)))
    return sizes


def display_name(name: str) -> str:
    """The name shown to people: the last path component, printable characters only, at
    most 255 of them. Storage paths never use it."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    cleaned = "".join(ch for ch in base if ch.isprintable())[:255].strip()
    return cleaned if cleaned.strip(".") else "video"
