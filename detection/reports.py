"""Reports of one finished analysis, for people to hand on: the facts as JSON (schema
"dfd-report/1", docs/report-schema.md) and the same facts as a printable A4 PDF.

`report_facts` is the one source: the PDF reads every fact it prints from it, and fetches from
storage only the images of the faces the facts name, so the two never disagree.

The PDF is drawn with ReportLab: a pure-Python wheel with no system libraries to install
(unlike HTML-to-PDF renderers that need Cairo/Pango or a browser), which keeps `make run` a
one-machine, nothing-else-installed affair. Text is set in DejaVu Sans, the TrueType font that
matplotlib's wheel ships (already a requirement), embedded so that any file name prints,
whatever its script; ReportLab's built-in fonts know only Latin-1.
"""

from __future__ import annotations

import io
import logging
from html import escape

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from dfdsite.errors import Conflict, StorageUnavailable

from .cards import public_text
from .models import STAGE_LABELS, Analysis, FrameResult
from .readings import media_word, method_limits, verdict_reading

logger = logging.getLogger(__name__)

REPORT_SCHEMA = "dfd-report/1"
MOST_SUSPICIOUS_FACES = 4


# --- The facts --------------------------------------------------------------------------------


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _score(probability: float | None) -> int | None:
    return None if probability is None else round(probability * 100)


def report_check(analysis: Analysis) -> None:
    """A report tells a verdict: raises Conflict for an analysis without one."""
    if analysis.status != Analysis.Status.DONE:
        raise Conflict(f"A report can be made once the analysis is done; this one is "
                       f"{analysis.get_status_display().lower()}.", code="not_done")


def report_file_name(analysis: Analysis, extension: str) -> str:
    return f"deepfake-report-{analysis.id}.{extension}"


def report_facts(analysis: Analysis) -> dict:
    """Every fact of a done analysis's report, JSON-ready (docs/report-schema.md). Raises
    Conflict for an analysis that is not done."""
    report_check(analysis)
    frames = list(analysis.frames.all())
    detector = analysis.detector
    is_image = analysis.media_kind == Analysis.MediaKind.IMAGE
    reading = verdict_reading(analysis)
    suspicious = sorted(frames, key=lambda frame: (-frame.probability_fake, frame.index))[:MOST_SUSPICIOUS_FACES]
    training_data = public_text(detector.training_data)
    return {
        "schema": REPORT_SCHEMA,
        "generated_at": _iso(timezone.now()),
        "generator": settings.SITE_NAME,
        "analysis": {
            "id": str(analysis.id),
            "media_kind": analysis.media_kind,
            "file_name": analysis.original_name,
            "source_url": analysis.source_url or None,
            "uploaded_at": _iso(analysis.created_at),
            "started_at": _iso(analysis.started_at),
            "finished_at": _iso(analysis.finished_at),
            "frames_requested": analysis.frames_requested,
            "frames_analysed": analysis.frames_analysed,
            "frames_without_face": analysis.frames_without_face,
            "strategy": analysis.strategy,
            "timings": {stage: round(float(seconds), 3) for stage, seconds in analysis.timings.items()},
        },
        "file": {
            "sha256": analysis.sha256,
            "size_bytes": analysis.size_bytes,
            "container": analysis.container,
            "width": analysis.width,
            "height": analysis.height,
            "duration_seconds": None if is_image else analysis.duration_seconds,
            "fps": None if is_image else analysis.fps,
        },
        "verdict": {
            "verdict": analysis.verdict,
            "band": analysis.band or None,
            "title": reading["title"],
            "reading": reading["sentence"],
            "probability_fake": analysis.probability_fake,
            "score": _score(analysis.probability_fake),
            "confidence": analysis.confidence,
        },
        "member_scores": [{"member": name, "probability_fake": probability}
                          for name, probability in sorted(analysis.member_scores.items())],
        "detector": {
            "name": detector.name,
            "version": detector.metadata.get("version") or detector.metadata.get("created") or None,
            "sha256": detector.sha256,
            "variant": detector.variant,
            "backbone": detector.backbone,
            "training_data": training_data or None,
        },
        "frames": [{
            "index": frame.index,
            "timestamp": frame.timestamp,
            "probability_fake": frame.probability_fake,
            "box": frame.box,
            "has_heatmap": bool(frame.heatmap),
        } for frame in frames],
        "most_suspicious_frames": [frame.index for frame in suspicious],
        "content_credentials": analysis.provenance or None,
        "limits": method_limits(analysis, training_data),
    }


# --- As downloads (the owner's page, the API and share links alike) ---------------------------


def _download(response: HttpResponse, analysis: Analysis, extension: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{report_file_name(analysis, extension)}"'
    response["Cache-Control"] = "private, no-store"  # a report says when it was made: always a fresh one
    return response


def report_pdf_response(analysis: Analysis) -> HttpResponse:
    return _download(HttpResponse(report_pdf(analysis), content_type="application/pdf"), analysis, "pdf")


def report_json_response(analysis: Analysis) -> HttpResponse:
    facts = report_facts(analysis)
    return _download(JsonResponse(facts, json_dumps_params={"ensure_ascii": False, "indent": 2}), analysis, "json")


# --- The PDF ----------------------------------------------------------------------------------

_FONTS_READY = False


def _fonts() -> tuple[str, str, str]:
    """Regular, bold and monospaced font names, registered once per process."""
    global _FONTS_READY
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if not _FONTS_READY:
        import matplotlib

        folder = f"{matplotlib.get_data_path()}/fonts/ttf"
        try:
            for name, file in (("DejaVuSans", "DejaVuSans.ttf"), ("DejaVuSans-Bold", "DejaVuSans-Bold.ttf"),
                               ("DejaVuSansMono", "DejaVuSansMono.ttf")):
                pdfmetrics.registerFont(TTFont(name, f"{folder}/{file}"))
        except Exception:  # no font file: Latin-1 text still prints in the built-in fonts
            logger.warning("DejaVu fonts not found in %s: the PDF uses Helvetica", folder)
            return "Helvetica", "Helvetica-Bold", "Courier"
        _FONTS_READY = True
    return "DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"


def _stored_bytes(name: str) -> bytes | None:
    """A stored image (local disk or S3); None when it is gone. Raises StorageUnavailable when
    the storage cannot be reached."""
    if not name:
        return None
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except Exception:
        logger.exception("could not read %s for a report", name)
        raise StorageUnavailable("The stored faces could not be read right now. Try again in a moment.") from None


def _size(size_bytes: int) -> str:
    return f"{size_bytes / (1024 * 1024):.1f} MB ({size_bytes:,} bytes)"


def _moment(iso: str | None) -> str:
    if not iso:
        return "—"
    from datetime import datetime

    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%-d %b %Y, %H:%M:%S %Z")


def _score_chart(frames: list[dict], duration: float | None, width: float, fonts):
    """The per-frame scores over time, drawn in PDF vector shapes (as detection.charts does in SVG)."""
    from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, String
    from reportlab.lib import colors

    regular = fonts[0]
    height, left, right, top, bottom = 150, 34, 8, 8, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(duration or 0.0, max((frame["timestamp"] for frame in frames), default=0.0), 1e-6)
    drawing = Drawing(width, height)
    grey = colors.HexColor("#6b7280")

    def x(seconds):
        return left + plot_w * seconds / span

    def y(probability):
        return bottom + plot_h * probability

    drawing.add(Line(left, bottom, left + plot_w, bottom, strokeColor=grey, strokeWidth=0.6))
    drawing.add(Line(left, bottom, left, bottom + plot_h, strokeColor=grey, strokeWidth=0.6))
    drawing.add(Line(left, y(0.5), left + plot_w, y(0.5), strokeColor=colors.HexColor("#d4a72c"),
                     strokeWidth=0.8, strokeDashArray=[3, 3]))
    for value in (0, 50, 100):
        drawing.add(String(left - 5, y(value / 100) - 3, str(value), fontName=regular, fontSize=7,
                           fillColor=grey, textAnchor="end"))
    for step in range(5):
        anchor = ("start", "middle", "middle", "middle", "end")[step]
        drawing.add(String(left + plot_w * step / 4, bottom - 12, f"{span * step / 4:.1f} s", fontName=regular,
                           fontSize=7, fillColor=grey, textAnchor=anchor))
    points = [(x(frame["timestamp"]), y(frame["probability_fake"])) for frame in frames]
    if len(points) > 1:
        drawing.add(PolyLine([coordinate for point in points for coordinate in point],
                             strokeColor=colors.HexColor("#4f46e5"), strokeWidth=1.2))
    for (px, py), frame in zip(points, frames):
        fake = frame["probability_fake"] >= 0.5
        drawing.add(Circle(px, py, 2.6, fillColor=colors.HexColor("#c62f3d" if fake else "#1f8a4c"),
                           strokeColor=colors.white, strokeWidth=0.6))
    return drawing


def report_pdf(analysis: Analysis) -> bytes:
    """The report as an A4 PDF. Raises Conflict for an analysis that is not done, and
    StorageUnavailable when its faces cannot be read."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        CondPageBreak,
        Image,
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    facts = report_facts(analysis)
    regular, bold, mono = fonts = _fonts()
    ink, grey, line = colors.HexColor("#1f2430"), colors.HexColor("#5b6270"), colors.HexColor("#d9dce3")
    body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=13.5, textColor=ink, alignment=TA_LEFT)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11, textColor=grey)
    code = ParagraphStyle("code", parent=body, fontName=mono, fontSize=7.5, leading=10)
    h1 = ParagraphStyle("h1", parent=body, fontName=bold, fontSize=17, leading=21, spaceAfter=2)
    h2 = ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12, leading=16, spaceBefore=12, spaceAfter=5)
    h3 = ParagraphStyle("h3", parent=body, fontName=bold, fontSize=10, leading=13, spaceBefore=4, spaceAfter=2)
    verdict_title = ParagraphStyle("verdict", parent=body, fontName=bold, fontSize=15, leading=19)
    score_style = ParagraphStyle("score", parent=body, fontName=bold, fontSize=26, leading=30, alignment=1)

    page_width, page_height = A4
    margin = 18 * mm
    content_width = page_width - 2 * margin
    media = media_word(analysis)
    info, verdict, file, detector = facts["analysis"], facts["verdict"], facts["file"], facts["detector"]

    def text(value) -> str:
        return escape(str(value)) if value not in (None, "") else "—"

    def facts_table(rows, label_width=38 * mm):
        table = Table([[Paragraph(label, small), value if not isinstance(value, str) else Paragraph(value, body)]
                       for label, value in rows], colWidths=[label_width, content_width - label_width])
        table.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3), ("TOPPADDING", (0, 0), (-1, -1), 1),
        ]))
        return table

    story = [
        Paragraph(f"{escape(settings.SITE_NAME)} · analysis report", small),
        Paragraph(text(info["file_name"]), h1),
        Paragraph(f"{'An' if media == 'image' else 'A'} {media}, analysed {text(_moment(info['finished_at']))}. "
                  f"Report made "
                  f"{text(_moment(facts['generated_at']))}; analysis {text(info['id'])}.", small),
        Spacer(1, 8),
    ]

    # The verdict, its reading and the score, in a box.
    if verdict["verdict"] == Analysis.Verdict.NO_FACE:
        summary = [Paragraph("Verdict", small), Paragraph(text(verdict["title"]), verdict_title),
                   Spacer(1, 3), Paragraph(text(verdict["reading"]), body)]
        box = Table([[summary]], colWidths=[content_width])
    else:
        summary = [
            Paragraph("Verdict", small), Paragraph(text(verdict["title"]), verdict_title), Spacer(1, 3),
            Paragraph(text(verdict["reading"]), body), Spacer(1, 4),
            Paragraph(f"Judged from the faces in {info['frames_analysed']} of the {info['frames_requested']} "
                      f"frames it looked at.", small),
        ]
        confidence = "—" if verdict["confidence"] is None else f"{verdict['confidence'] * 100:.0f}%"
        score = [Paragraph(f"{verdict['score']}<font size=11>/100</font>", score_style),
                 Paragraph("manipulation score", ParagraphStyle("sl", parent=small, alignment=1)),
                 Spacer(1, 4),
                 Paragraph(f"probability {verdict['probability_fake']:.3f}<br/>confidence {confidence}",
                           ParagraphStyle("sp", parent=small, alignment=1))]
        box = Table([[summary, score]], colWidths=[content_width - 44 * mm, 44 * mm])
    box.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.8, line), ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f6f7fb")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("PADDING", (0, 0), (-1, -1), 9),
    ]))
    story.append(box)

    if facts["member_scores"]:
        story.append(Paragraph("Each member of the ensemble", h2))
        story.append(Paragraph("The verdict combines several detectors; each one's own score:", body))
        story.append(facts_table([(text(member["member"]), f"{_score(member['probability_fake'])}/100 "
                                   f"(probability {member['probability_fake']:.3f})")
                                  for member in facts["member_scores"]], label_width=60 * mm))

    if facts["content_credentials"]:
        story += [
            Paragraph("Content Credentials", h2),
            Paragraph("What the file itself declares about its origin (C2PA). This is separate from the "
                      "detector's opinion above: credentials can be missing, stripped or forged, and the detector "
                      "did not read them.", small),
            Spacer(1, 3),
        ]
        story.append(facts_table([(text(key), text(value if isinstance(value, str) else _json(value)))
                                  for key, value in facts["content_credentials"].items()]))

    if facts["frames"] and not analysis.media_kind == Analysis.MediaKind.IMAGE:
        story += [CondPageBreak(60 * mm), Paragraph("Score per frame", h2),
                  _score_chart(facts["frames"], file["duration_seconds"], content_width, fonts),
                  Paragraph("Each dot is one analysed frame's face (red: 50 or more); the dashed line is 50.", small)]

    faces = _faces(analysis, facts["most_suspicious_frames"], content_width, small, Image)
    if faces is not None:
        story += [CondPageBreak(70 * mm), Paragraph("The most suspicious faces", h2),
                  Paragraph("Each face beside its heat map: warmer areas weighed more towards “manipulated”.", small),
                  Spacer(1, 4), faces]

    story.append(Paragraph(f"The {media}", h2))
    rows = [("File", text(info["file_name"])), ("SHA-256", Paragraph(text(file["sha256"]), code)),
            ("Size", f"{_size(file['size_bytes'])} · {text(file['container']).upper()}"),
            ("Resolution", f"{file['width']}×{file['height']}"
                           + ("" if file["fps"] is None else f" at {file['fps']:.2f} fps"))]
    if file["duration_seconds"] is not None:
        rows.append(("Duration", f"{file['duration_seconds']:.2f} s"))
    if info["source_url"]:
        rows.append(("Fetched from", text(info["source_url"])))
    rows.append(("Uploaded", text(_moment(info["uploaded_at"]))))
    story.append(facts_table(rows))

    story.append(Paragraph("How it was judged", h2))
    rows = [("Detector", text(detector["name"])), ("Version", text(detector["version"])),
            ("Checkpoint SHA-256", Paragraph(text(detector["sha256"]), code)),
            ("Model", f"{text(detector['variant'])}, {text(detector['backbone'])}"),
            ("Frames", f"{info['frames_requested']} requested ({text(info['strategy'])}), "
                       f"{info['frames_analysed']} with a face, {info['frames_without_face']} without"),
            ("Started", text(_moment(info["started_at"]))), ("Finished", text(_moment(info["finished_at"])))]
    timings = ", ".join(f"{STAGE_LABELS.get(stage, stage).lower()} {seconds:.2f} s"
                        for stage, seconds in info["timings"].items())
    if timings:
        rows.append(("Time taken", text(timings)))
    story.append(facts_table(rows))

    limits = [Paragraph("Limits of the method", h2),
              Paragraph("A score is a screening aid, not proof. Read the verdict with these limits in mind.", body)]
    for limit in facts["limits"]:
        limits += [Paragraph(text(limit["title"]), h3), Paragraph(text(limit["text"]), body)]
    story.append(KeepTogether(limits))

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(regular, 7.5)
        canvas.setFillColor(grey)
        canvas.drawString(margin, 10 * mm, f"{settings.SITE_NAME} · {facts['schema']} · analysis {info['id']}")
        canvas.drawRightString(page_width - margin, 10 * mm, f"page {document.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin, bottomMargin=margin + 4 * mm,
        title=f"Analysis report: {info['file_name']}", author=settings.SITE_NAME,
        subject=f"{verdict['title']} ({facts['schema']})", creator=settings.SITE_NAME,
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _faces(analysis: Analysis, indexes: list[int], content_width: float, caption_style, image_class):
    """A table of the named faces, each with its heat map, read from storage; None without any."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table, TableStyle

    frames = {frame.index: frame for frame in FrameResult.objects.filter(analysis=analysis, index__in=indexes)}
    side = 40 * mm
    cells = []
    for index in indexes:
        frame = frames.get(index)
        face = _stored_bytes(frame.thumbnail.name) if frame else None
        if face is None:
            continue
        heatmap = _stored_bytes(frame.heatmap.name)
        pair = [image_class(io.BytesIO(face), width=side, height=side)]
        if heatmap is not None:
            pair.append(image_class(io.BytesIO(heatmap), width=side, height=side))
        caption = Paragraph(f"At {frame.timestamp:.1f} s (frame {frame.index}) · score "
                            f"{_score(frame.probability_fake)}", caption_style)
        cells.append([Table([pair], colWidths=[side + 2 * mm] * len(pair)), caption])
    if not cells:
        return None
    rows = []
    for start in range(0, len(cells), 2):
        row = cells[start:start + 2] + ([["", ""]] if len(cells[start:start + 2]) == 1 else [])
        rows.append([row[0][0], row[1][0]])
        rows.append([row[0][1], row[1][1]])
    table = Table(rows, colWidths=[content_width / 2] * 2)
    table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))
    return table
