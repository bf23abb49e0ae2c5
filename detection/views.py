import re

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import registry, selectors, services
from .charts import roc_chart, score_chart
from .forms import AnalysisFilterForm, AnalysisUploadForm
from .models import Analysis

PAGE_SIZE = 20


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@require_GET
def home(request):
    return render(request, "detection/home.html", {
        "counts": selectors.analysis_counts(owner=request.user),
        "recent": selectors.analysis_list(owner=request.user)[:6],
        "has_detector": selectors.detector_list().exists(),
    })


@require_GET
def analysis_list(request):
    form = AnalysisFilterForm(request.GET or None)
    filters = selectors.AnalysisFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.AnalysisFilters(
            status=data["status"], verdict=data["verdict"], created_from=data["created_from"],
            created_to=data["created_to"], search=data["q"].strip(), sort=data["sort"] or "newest",
        )
    page = Paginator(selectors.analysis_list(owner=request.user, filters=filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "detection/analysis_list.html", {
        "form": form, "page": page, "query": query.urlencode(), "filtered": filters != selectors.AnalysisFilters(),
        "has_any": selectors.analysis_list(owner=request.user).exists(),
    })


@require_http_methods(["GET", "POST"])
def analysis_new(request):
    has_detector = selectors.detector_list().exists()
    form = AnalysisUploadForm()
    status = 200
    if request.method == "POST":
        # Refuse an oversized body from its declared length, before Django reads it.
        too_large = services.upload_declared_too_large(request.META.get("CONTENT_LENGTH"))
        form = AnalysisUploadForm({} if too_large else request.POST, {} if too_large else request.FILES)
        if too_large:
            form.full_clean()
            form.errors.clear()
            form.add_error("file", services.upload_too_large_message())
            status = 413
        elif form.is_valid():
            try:
                analysis = services.analysis_create(
                    owner=request.user, file=form.cleaned_data["file"], frames=form.cleaned_data["frames"],
                    strategy=form.cleaned_data["strategy"], detector=form.cleaned_data.get("detector"),
                )
            except ValidationError as error:
                form.add_error("file", error)
                status = services.ERROR_STATUS.get(error.code, 400)
            else:
                url = reverse("detection:analysis_detail", args=[analysis.id])
                if _wants_json(request):
                    return JsonResponse({"id": str(analysis.id), "url": url}, status=201)
                return redirect(url)
        else:
            status = 400
        if _wants_json(request):
            return JsonResponse({"errors": {field: [str(e) for e in errs] for field, errs in form.errors.items()}},
                                status=status)
    return render(request, "detection/analysis_new.html", {
        "form": form, "has_detector": has_detector, "max_upload_mb": settings.DFD_MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_duration": settings.DFD_MAX_DURATION_SECONDS,
    }, status=status)


@require_GET
def analysis_detail(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    frames = list(analysis.frames.all())
    heatmaps = [frame for frame in sorted(frames, key=lambda f: -f.probability_fake) if frame.heatmap]
    return render(request, "detection/analysis_detail.html", {
        "analysis": analysis, "frames": frames, "heatmaps": heatmaps,
        "chart": score_chart(frames, analysis.duration_seconds) if frames else None,
    })


@require_GET
def analysis_status(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    return JsonResponse({
        "id": str(analysis.id), "status": analysis.status, "stage": analysis.stage, "progress": analysis.progress,
        "verdict": analysis.verdict, "probability_fake": analysis.probability_fake,
        "error_message": analysis.error_message, "finished": analysis.is_finished,
    })


@require_POST
def analysis_delete(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    name = analysis.original_name
    try:
        services.analysis_delete(analysis=analysis)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("detection:analysis_detail", analysis_id=analysis.id)
    messages.success(request, f"Deleted the analysis of “{name}” and its files.")
    return redirect("detection:analysis_list")


@require_POST
def analysis_retry(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    try:
        services.analysis_retry(analysis=analysis)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, "The analysis was queued again.")
    return redirect("detection:analysis_detail", analysis_id=analysis.id)


@require_GET
def analysis_file(request, analysis_id, kind, index=None):
    """Stream a stored file to its owner only (local disk), or redirect to a short-lived
    presigned URL (S3). Files are never public."""
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    if kind == "video":
        name = analysis.video.name
    elif kind == "poster":
        name = analysis.poster.name
    else:
        frame = get_object_or_404(analysis.frames, index=index)
        name = frame.thumbnail.name if kind == "thumbnail" else frame.heatmap.name
    if not name:
        raise Http404("No such file.")
    try:
        default_storage.path(name)
    except NotImplementedError:
        return HttpResponseRedirect(default_storage.url(name))
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    content_type = _content_type(kind, analysis)
    size = default_storage.size(name)
    byte_range = _requested_range(request.headers.get("Range", ""), size)
    if byte_range:  # lets the video player seek
        start, end = byte_range
        handle.seek(start)
        response = HttpResponse(handle.read(end - start + 1), status=206, content_type=content_type)
        handle.close()
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(handle, content_type=content_type)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    return response


MAX_RANGE_BYTES = 8 * 1024 * 1024  # one answer holds at most this much; players ask again


def _requested_range(header: str, size: int) -> tuple[int, int] | None:
    """The first range of a "bytes=start-end" header, clamped, or None to send the whole file."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)(,.*)?", header.strip())
    if not match or size == 0 or not (match.group(1) or match.group(2)):
        return None
    if match.group(1):
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else size - 1
    else:  # "bytes=-N": the last N bytes
        start, end = max(0, size - int(match.group(2))), size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1, start + MAX_RANGE_BYTES - 1)


def _content_type(kind: str, analysis: Analysis) -> str:
    if kind != "video":
        return "image/jpeg"
    return {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "mkv": "video/x-matroska",
            "avi": "video/x-msvideo"}[analysis.container]


@require_GET
def detector_list(request):
    detectors = list(selectors.detector_list())
    for detector in detectors:
        detector.status = registry.detector_check(detector)
    return render(request, "detection/detector_list.html", {"detectors": detectors})


@require_GET
def detector_detail(request, detector_id):
    detector = selectors.detector_get(detector_id=detector_id)
    return render(request, "detection/detector_detail.html", {
        "detector": detector, "status": registry.detector_check(detector), "metrics": detector.metrics,
        "roc": roc_chart(detector.metrics.get("roc")),
    })
