"""Model cards: Markdown written by whoever trained a detector, shown as sanitised HTML, and
text from checkpoints shown without the paths of the machine that wrote it."""

from __future__ import annotations

import re

import markdown
import nh3

# An absolute or parent-relative path with at least two parts: /work/shared/data/train -> train.
_PATH = re.compile(r"(?<![\w:/.~+-])(?:\.\./|/)(?:[\w.+-]+/)+([\w.+-]+)")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
# Remote images would break the pages' Content-Security-Policy; a card needs none.
_TAGS = nh3.ALLOWED_TAGS - {"img", "map", "area"}
_ATTRIBUTES = {tag: attrs for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items() if tag in _TAGS} | {"*": {"id"}}


def public_text(text: str) -> str:
    """The text with server paths reduced to their last part."""
    return _PATH.sub(r"\1", text or "")


def _slug(value: str, separator: str) -> str:
    # Prefixed, so that a card's headings never take the id of something on the page around it.
    return "card-" + re.sub(r"[^\w]+", separator, value.lower()).strip(separator)


def card_html(text: str) -> str:
    """A model card as safe HTML: headings start at h3 (the page has its own h1 and h2); code stays
    as written (commands quote example paths), prose loses server paths."""
    parts = _CODE.split(text or "")
    source = "".join(part if i % 2 else public_text(part) for i, part in enumerate(parts))
    html = markdown.markdown(source, output_format="html", extensions=["tables", "fenced_code", "toc"],
                             extension_configs={"toc": {"baselevel": 3, "slugify": _slug},
                                                "tables": {"use_align_attribute": True}})
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES)
